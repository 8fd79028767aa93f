"""Marketplace adapters (docs/marketplaces.md): AWS Marketplace SaaS, Azure SaaS
Fulfillment v2 and Stripe-style billing events, each turning what its marketplace sends into
stored inbox rows (``api/rest/marketplaces.py``) and stored rows into orders (``order``)."""
