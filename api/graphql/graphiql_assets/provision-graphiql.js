// Provision's GraphiQL page: strawberry's page script, served from 'self' so the page runs
// under a CSP without inline script. The editor opens with the share link's `query` (and
// `variables`, `operationName`, `headers`), else with the README's example query; editing keeps the
// address bar a share link. Headers typed in the headers editor (e.g. Authorization) are sent
// with every request and kept in the browser's storage.
(function () {
  "use strict";

  var defaultQuery = JSON.parse(
    document.getElementById("provision-default-query").textContent,
  );
  var parameters = {};
  new URLSearchParams(window.location.search).forEach(function (value, key) {
    parameters[key] = value;
  });

  function updateURL(data) {
    Object.assign(parameters, data);
    var search = new URLSearchParams();
    Object.keys(parameters).forEach(function (key) {
      if (parameters[key]) {
        search.set(key, parameters[key]);
      }
    });
    history.replaceState(null, "", "?" + search.toString());
  }

  var fetcher = GraphiQL.createFetcher({
    url: window.location.href.split("?")[0],
  });
  var explorer = GraphiQLPluginExplorer.explorerPlugin();

  function ProvisionGraphiQL() {
    var query = React.useState(parameters.query || defaultQuery);
    var variables = React.useState(parameters.variables);
    return React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultEditorToolsVisibility: true,
      plugins: [explorer],
      query: query[0],
      variables: variables[0],
      operationName: parameters.operationName,
      headers: parameters.headers,
      onEditQuery: function (value) {
        query[1](value);
        updateURL({ query: value });
      },
      onEditVariables: function (value) {
        variables[1](value);
        updateURL({ variables: value });
      },
      onEditOperationName: function (value) {
        updateURL({ operationName: value });
      },
      inputValueDeprecation: true,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: true,
    });
  }

  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(ProvisionGraphiQL),
  );
})();
