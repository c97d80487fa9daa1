// GraphiQL for partnerhub, started without inline script (the page's CSP is
// script-src 'self'). Opened from the dashboard (same tab, or a new tab that
// keeps its opener) it finds the dashboard's token in sessionStorage and fills
// in the Authorization header; headers are not persisted in localStorage, so a
// token never outlives the browser session here either.
"use strict";

(function () {
  const TOKEN_KEY = "partnerhub.token"; // the dashboard's key (web/static/app.js)
  const EXAMPLE_QUERY = `# partnerhub GraphQL API. Add your token in the Headers tab below:
#   {"Authorization": "Bearer ph_…"}
# then run this query with Ctrl-Enter.
{
  viewer { email role }
  customers(first: 5, filter: { statuses: [EXPIRING_SOON] }) {
    totalCount
    nodes { name statuses }
  }
}
`;

  // ?q= (not ?query=, which /graphql runs as a GET request) and ?variables= keep a
  // shareable link to what is in the editors.
  const parameters = new URLSearchParams(window.location.search);

  function remember(name, value) {
    if (value) parameters.set(name, value);
    else parameters.delete(name);
    const search = parameters.toString();
    history.replaceState(null, "", search ? "?" + search : window.location.pathname);
  }

  function initialHeaders() {
    let token = null;
    try {
      token = window.sessionStorage.getItem(TOKEN_KEY);
    } catch (_) {
      token = null; // storage disabled: the user pastes the header
    }
    return token ? JSON.stringify({ Authorization: "Bearer " + token }, null, 2) : "";
  }

  // Subscriptions go over WebSocket (graphql-transport-ws, the bundled graphql-ws
  // client); GraphiQL sends the Headers tab as the connection_init payload, so
  // the same {"Authorization": "Bearer ph_…"} authenticates them.
  const fetcher = GraphiQL.createFetcher({
    url: window.location.origin + "/graphql",
    subscriptionUrl: window.location.origin.replace(/^http/, "ws") + "/graphql",
  });
  const explorer = GraphiQLPluginExplorer.explorerPlugin();

  function App() {
    return React.createElement(GraphiQL, {
      fetcher: fetcher,
      plugins: [explorer],
      defaultEditorToolsVisibility: true,
      defaultQuery: EXAMPLE_QUERY,
      query: parameters.get("q") || undefined,
      variables: parameters.get("variables") || undefined,
      headers: initialHeaders(),
      onEditQuery: function (q) { remember("q", q); },
      onEditVariables: function (v) { remember("variables", v); },
      inputValueDeprecation: true,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
    });
  }

  ReactDOM.createRoot(document.getElementById("graphiql")).render(React.createElement(App));
})();
