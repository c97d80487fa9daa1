// Partner Hub dashboard: a single page on the public GraphQL API (/graphql).
// Plain modern JavaScript, no framework, no build step. Every value shown is
// fetched from the API with the token the user pasted (kept in sessionStorage).
"use strict";

(() => {
  // ------------------------------------------------------------ constants

  const TOKEN_KEY = "partnerhub.token";
  const PRODUCT_KEY = "partnerhub.product";
  const PAGE_SIZE = 25;
  const SECTION_PAGE = 10;

  const STATUS = {
    SUSPENDED: ["Suspended", "bad"],
    LICENSE_OVERAGE: ["Licence overage", "bad"],
    EXPIRING_SOON: ["Expiring soon", "warn"],
    READY_FOR_SETUP: ["Ready for order setup", "info"],
    NO_RECENT_ACTIVITY: ["No recent activity", ""],
    TRIAL: ["Trial", "accent"],
    SUBSCRIPTION: ["Subscription", "ok"],
    EXPIRED: ["Expired", ""],
  };
  const PRODUCT = {
    MEETINGS: "Meetings",
    CALLING: "Calling",
    MESSAGING: "Messaging",
    REAL_TIME_TRANSLATION: "Real-time translation",
  };
  const ROLE = {
    PARTNER_FULL_ADMIN: "Partner full admin",
    PARTNER_READ_ONLY_ADMIN: "Partner read-only admin",
    SALES_FULL_ADMIN: "Sales full admin",
    SALES_ADMIN: "Sales admin",
  };
  const MANAGED_BY = { PARTNER_ORG: "Partner organisation", EXTERNAL_ADMIN: "External admin" };
  const PLAN_TYPE = { SUBSCRIPTION: "Subscription", TRIAL: "Trial" };
  const PLAN_STATUS = {
    ACTIVE: "ok", SUSPENDED: "bad", PENDING_SETUP: "info", CANCELLED: "", CONVERTED: "accent",
    PAID: "ok", UNPAID: "warn", OVERDUE: "bad",
  };

  // ------------------------------------------------------------ state

  const state = {
    token: sessionStorage.getItem(TOKEN_KEY),
    viewer: null,
    product: sessionStorage.getItem(PRODUCT_KEY) === "CALLING" ? "CALLING" : "MEETINGS",
    view: null, // { name, update(params)? }
    renderId: 0,
  };

  const $ = (sel, root = document) => root.querySelector(sel);

  // ------------------------------------------------------------ DOM helpers

  function append(el, kids) {
    for (const kid of kids.flat(Infinity)) {
      if (kid == null || kid === false) continue;
      el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    }
    return el;
  }

  function h(tag, props, ...kids) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value == null || value === false) continue;
      if (key === "class") el.className = value;
      else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else if (key === "testid") el.dataset.testid = value;
      else el.setAttribute(key, value === true ? "" : value);
    }
    return append(el, kids);
  }

  const SVG_NS = "http://www.w3.org/2000/svg";
  function s(tag, attrs, ...kids) {
    const el = document.createElementNS(SVG_NS, tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value != null) el.setAttribute(key, value);
    }
    return append(el, kids);
  }

  // ------------------------------------------------------------ formatting

  const intFmt = new Intl.NumberFormat("en-US");
  const dec1 = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });
  const dateFmt = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });
  const shortDate = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", timeZone: "UTC" });

  const fmtInt = (v) => (v == null ? "—" : intFmt.format(v));
  const fmtDec = (v) => (v == null ? "—" : dec1.format(v));
  const fmtPct = (v) => (v == null ? "—" : `${dec1.format(v * 100)}%`);
  const fmtDelta = (v) => (v == null ? "—" : v > 0 ? `+${intFmt.format(v)}` : intFmt.format(v));
  const parseDate = (iso) => new Date(`${iso}T00:00:00Z`);
  const fmtDate = (iso) => (iso ? dateFmt.format(parseDate(iso)) : "—");
  const fmtShort = (iso) => shortDate.format(parseDate(iso));
  function fmtDays(n) {
    if (n == null) return "—";
    if (n < 0) return `ended ${-n} d ago`;
    return n === 1 ? "1 day" : `${n} days`;
  }
  function fmtCompact(v) {
    if (v >= 1e6) return `${dec1.format(v / 1e6)}M`;
    if (v >= 1e4) return `${dec1.format(v / 1e3)}k`;
    return intFmt.format(v);
  }

  const badge = (text, kind, testid) => h("span", { class: `badge${kind ? ` badge-${kind}` : ""}`, testid }, text);
  const statusBadge = (st) => badge((STATUS[st] || [st])[0], (STATUS[st] || [])[1], `status-${st}`);
  const initials = (name) => name.split(/\s+/).filter(Boolean).slice(0, 2).map((p) => p[0].toUpperCase()).join("");

  function rateCell(rate) {
    if (rate == null) return "—";
    const width = Math.max(0, Math.min(1, rate)) * 100;
    return h("span", { class: "rate" },
      h("span", { class: `rate-bar${rate > 1 ? " over" : ""}` }, h("span", { style: `width:${width}%` })),
      fmtPct(rate));
  }

  // ------------------------------------------------------------ API

  class ApiError extends Error {
    constructor(code, message, status) {
      super(message);
      this.code = code;
      this.status = status;
    }
  }

  async function gql(query, variables = {}) {
    let response;
    try {
      response = await fetch("/graphql", {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/graphql-response+json, application/json",
          ...(state.token ? { Authorization: `Bearer ${state.token}` } : {}),
        },
        body: JSON.stringify({ query, variables }),
      });
    } catch (err) {
      throw new ApiError("NETWORK", `Could not reach the server (${err.message}). Is partnerhub still running?`);
    }
    let body = null;
    try {
      body = await response.json();
    } catch {
      throw new ApiError("BAD_RESPONSE", `The server answered HTTP ${response.status} without a GraphQL response.`, response.status);
    }
    const errors = body && body.errors;
    if (errors && errors.length) {
      const first = errors[0];
      const code = (first.extensions && first.extensions.code) || "ERROR";
      const err = new ApiError(code, first.message, response.status);
      err.errors = errors;
      if (code === "UNAUTHENTICATED" && state.viewer) signOut(`Your token is no longer accepted: ${first.message}`);
      throw err;
    }
    if (!response.ok) throw new ApiError("HTTP", `The server answered HTTP ${response.status}.`, response.status);
    return body.data;
  }

  // An error as a person should read it.
  function describe(err) {
    const role = state.viewer ? ROLE[state.viewer.role] || state.viewer.role : "";
    switch (err.code) {
      case "FORBIDDEN":
        return [`Refused: your role (${role}) may not do this.`, err.message];
      case "UNAUTHENTICATED":
        return ["Your token was not accepted.", err.message];
      case "NETWORK":
      case "BAD_RESPONSE":
        return [err.message];
      case "QUERY_TOO_COMPLEX":
        return ["The request was too large for the server's limits.", err.message];
      default:
        return [err.message || String(err)];
    }
  }

  function errorBox(err, testid = "error") {
    const [headline, detail] = err instanceof ApiError ? describe(err) : [String(err && err.message ? err.message : err)];
    return h("div", { class: "alert alert-error", role: "alert", testid, "data-code": err.code || "" },
      h("strong", null, headline),
      detail && detail !== headline ? h("div", null, detail) : null,
      err.code ? h("div", { class: "faint" }, h("code", null, err.code)) : null);
  }

  function userErrorsBox(userErrors, testid) {
    return h("div", { class: "alert alert-error", role: "alert", testid },
      h("strong", null, userErrors.length === 1 ? "The server did not accept this:" : "The server did not accept this:"),
      h("ul", null, userErrors.map((e) => h("li", { "data-code": e.code },
        e.field && e.field.length ? h("span", { class: "faint" }, `${e.field.join(".")}: `) : null,
        e.message, " ", h("code", null, e.code)))));
  }

  // ------------------------------------------------------------ sign-in

  async function signIn(token) {
    state.token = token;
    const data = await gql("query Viewer { viewer { id email displayName role hasAccessToAllCustomers } }");
    state.viewer = data.viewer;
    sessionStorage.setItem(TOKEN_KEY, token);
    showApp();
  }

  function signOut(message) {
    state.token = null;
    state.viewer = null;
    state.view = null;
    sessionStorage.removeItem(TOKEN_KEY);
    $("#app").hidden = true;
    $("#login").hidden = false;
    const box = $("#login-error");
    box.hidden = !message;
    box.textContent = message || "";
    $("#token-input").value = "";
    $("#token-input").focus();
  }

  function showApp() {
    $("#login").hidden = true;
    $("#app").hidden = false;
    $("#viewer-name").textContent = state.viewer.displayName;
    $("#viewer-name").title = state.viewer.email;
    $("#viewer-role").textContent = ROLE[state.viewer.role] || state.viewer.role;
    route();
  }

  $("#login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = $("#token-input").value.trim().replace(/^Bearer\s+/i, "");
    const box = $("#login-error");
    const button = $("#login-form button[type=submit]");
    if (!token) {
      box.hidden = false;
      box.textContent = "Paste a token first.";
      return;
    }
    button.disabled = true;
    box.hidden = true;
    try {
      await signIn(token);
    } catch (err) {
      state.token = null;
      box.hidden = false;
      box.textContent = err.code === "UNAUTHENTICATED"
        ? `That token was not accepted: ${err.message} Create one with "partnerhub token create EMAIL".`
        : describe(err).join(" ");
    } finally {
      button.disabled = false;
    }
  });

  $("#sign-out").addEventListener("click", () => signOut());

  // ------------------------------------------------------------ routing

  function parseHash() {
    const raw = location.hash.replace(/^#/, "") || "/";
    const [path, query = ""] = raw.split("?");
    const params = Object.fromEntries(new URLSearchParams(query));
    const parts = path.split("/").filter(Boolean);
    if (parts[0] === "customers" && parts[1]) return { name: "customer", params: { ...params, id: decodeURIComponent(parts[1]) } };
    if (parts[0] === "customers") return { name: "customers", params };
    return { name: "overview", params };
  }

  function navigate(hash, { replace = false } = {}) {
    if (replace) {
      history.replaceState(null, "", hash);
      route();
    } else if (location.hash === hash) {
      route();
    } else {
      location.hash = hash;
    }
  }

  function route() {
    if (!state.viewer) return;
    $("#banner").hidden = true;
    const { name, params } = parseHash();
    for (const link of document.querySelectorAll("[data-nav]")) {
      link.classList.toggle("active", link.dataset.nav === (name === "customer" ? "customers" : name));
    }
    if (state.view && state.view.name === name && state.view.update) {
      state.view.update(params);
      return;
    }
    const view = $("#view");
    view.replaceChildren();
    const renderId = ++state.renderId;
    const ctx = { renderId, alive: () => renderId === state.renderId };
    if (name === "customer") state.view = mountCustomer(view, params, ctx);
    else if (name === "customers") state.view = mountCustomers(view, params, ctx);
    else state.view = mountOverview(view, params, ctx);
    window.scrollTo(0, 0);
  }

  window.addEventListener("hashchange", route);

  const customerHref = (id) => `#/customers/${encodeURIComponent(id)}`;

  // ------------------------------------------------------------ overview

  const COMMON_COLUMNS = [
    { key: "totalLicenses", label: "Total", fmt: fmtInt, num: true },
    { key: "assigned", label: "Assigned", fmt: fmtInt, num: true },
    { key: "used", label: "Used", fmt: fmtInt, num: true },
    { key: "available", label: "Available", fmt: fmtInt, num: true },
  ];

  const SECTIONS = [
    {
      key: "recentlyAdded", title: "Recently added", sub: "Plans added in the last 90 days",
      kpis: [["newCustomers", "New customers", fmtInt], ["totalLicenses", "Total licences", fmtInt]],
      columns: [
        { key: "daysSinceAdded", label: "Days since added", fmt: fmtInt, num: true },
        { key: "weeklyAssignmentChange", label: "Weekly Δ assigned", fmt: fmtDelta, num: true },
        { key: "weeklyUsageChange", label: "Weekly Δ used", fmt: fmtDelta, num: true },
      ],
    },
    {
      key: "expiring", title: "Expiring in the next 90 days", sub: "Trials, and subscriptions without auto-renewal",
      kpis: [["expiringCustomers", "Customers", fmtInt], ["licenseAssignmentRate", "Assigned", fmtPct], ["licenseUsageRate", "Used", fmtPct]],
      columns: [
        { key: "daysToExpiry", label: "Days to expiry", fmt: fmtInt, num: true },
        { key: "usageLast3Months", label: "Used (90 d)", fmt: fmtInt, num: true },
      ],
    },
    {
      key: "renewing", title: "Renewing in the next 90 days", sub: "Subscriptions with auto-renewal",
      kpis: [["renewingCustomers", "Customers", fmtInt], ["licenseAssignmentRate", "Assigned", fmtPct], ["licenseUsageRate", "Used", fmtPct]],
      columns: [
        { key: "daysToRenewal", label: "Days to renewal", fmt: fmtInt, num: true },
        { key: "usageLast3Months", label: "Used (90 d)", fmt: fmtInt, num: true },
      ],
    },
    {
      key: "lowAssignment", title: "Low licence assignment", sub: "Assigned well below the partner's median",
      kpis: [
        ["lowAssignmentCustomers", "Customers", fmtInt], ["licenseAssignmentRate", "Assigned", fmtPct],
        ["usageWhenAssignedRate", "Used when assigned", fmtPct], ["totalUnassignedLicenses", "Unassigned", fmtInt],
      ],
      columns: [
        { key: "monthsSinceAdded", label: "Months since added", fmt: fmtInt, num: true },
        { key: "assignmentRate", label: "Assignment", cell: rateCell, num: true },
        { key: "weeklyAssignmentChange", label: "Weekly Δ assigned", fmt: fmtDelta, num: true },
      ],
    },
    {
      key: "overLimit", title: "Over licence limit", sub: "More licences assigned than bought",
      kpis: [["customersWithOverage", "Customers", fmtInt], ["totalOverageLicenses", "Overage licences", fmtInt], ["averageOverage", "Average overage", fmtDec]],
      columns: [
        { key: "monthsRemaining", label: "Months left", fmt: fmtInt, num: true },
        { key: "autoRenew", label: "Auto-renew", fmt: (v) => (v ? "Yes" : "No") },
        { key: "assignmentRate", label: "Assignment", cell: rateCell, num: true },
        { key: "usageRate", label: "Usage", fmt: fmtPct, num: true },
        { key: "overage", label: "Overage", fmt: fmtInt, num: true },
      ],
    },
  ];

  const rowFields = (section) => [
    "customer { id name }", "planType", "subscriptionId",
    ...COMMON_COLUMNS.map((c) => c.key), ...section.columns.map((c) => c.key),
  ].join(" ");
  const rowsSelection = (section, args) =>
    `rows(${args}) { totalCount pageInfo { hasNextPage endCursor } edges { node { ${rowFields(section)} } } }`;

  const KPI_QUERY = `query Kpis { kpis { asOf totalCustomers expiring renewing lowLicenseAssignment overLicenseLimit } }`;
  const ANALYTICS_QUERY = `query Analytics($product: KpiProduct!, $first: Int!) {
    analytics(product: $product) {
      product asOf
      licenseTrend(weeks: 12) { date total assigned used }
      ${SECTIONS.map((sec) => `${sec.key} { ${sec.kpis.map((k) => k[0]).join(" ")} ${rowsSelection(sec, "first: $first")} }`).join("\n      ")}
    }
  }`;
  const sectionPageQuery = (section) => `query SectionPage($product: KpiProduct!, $first: Int!, $after: String) {
    analytics(product: $product) { ${section.key} { ${rowsSelection(section, "first: $first, after: $after")} } }
  }`;

  const TILES = [
    ["totalCustomers", "Total customers", "with Meetings or Calling", null],
    ["expiring", "Expiring", "in the next 90 days", "expiring", "#b7791f"],
    ["renewing", "Renewing", "in the next 90 days", "renewing", "#12a37f"],
    ["lowLicenseAssignment", "Low licence assignment", "below half the median", "lowAssignment", "#5b4bc4"],
    ["overLicenseLimit", "Over licence limit", "assigned above bought", "overLimit", "#c0362c"],
  ];

  function mountOverview(root, _params, ctx) {
    const tiles = h("div", { class: "tiles", testid: "kpi-tiles" },
      TILES.map(([key, label, note, , color]) => h("div", { class: "tile", style: color ? `--tile:${color}` : null },
        h("div", { class: "tile-label" }, label),
        h("div", { class: "tile-value", testid: `kpi-${key}` }, "…"),
        h("div", { class: "tile-note" }, note))));
    const asOf = h("div", { class: "sub" }, "Loading…");
    const analytics = h("div", { testid: "analytics" }, h("div", { class: "loading" }, "Loading analytics…"));
    const toggle = h("div", { class: "segmented", role: "group", "aria-label": "Product", testid: "product-toggle" },
      ["MEETINGS", "CALLING"].map((p) => h("button", {
        type: "button", "aria-pressed": String(state.product === p), testid: `product-${p}`,
        onclick: () => {
          if (state.product === p) return;
          state.product = p;
          sessionStorage.setItem(PRODUCT_KEY, p);
          for (const b of toggle.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b.dataset.testid === `product-${p}`));
          loadAnalytics();
        },
      }, PRODUCT[p])));

    root.append(
      h("div", { class: "page-head" }, h("div", null, h("h1", null, "Overview"), asOf)),
      tiles,
      h("div", { class: "analytics-head" },
        h("div", null, h("h2", null, "Analytics"), h("div", { class: "muted" }, "Licence trend and the customers that need attention, per product")),
        toggle),
      analytics);

    // Tiles jump to their section.
    tiles.querySelectorAll(".tile").forEach((tile, i) => {
      const target = TILES[i][3];
      if (!target) return;
      tile.style.cursor = "pointer";
      tile.addEventListener("click", () => { const el = $(`[data-testid=section-${target}]`); if (el) el.scrollIntoView({ behavior: "smooth" }); });
    });

    gql(KPI_QUERY).then((data) => {
      if (!ctx.alive()) return;
      for (const [key] of TILES) $(`[data-testid=kpi-${key}]`, tiles).textContent = fmtInt(data.kpis[key]);
      asOf.textContent = `As of ${fmtDate(data.kpis.asOf)} · customers with a live Meetings or Calling plan that you can see`;
    }).catch((err) => {
      if (!ctx.alive()) return;
      tiles.replaceWith(errorBox(err, "kpi-error"));
      asOf.textContent = "";
    });

    let loadSeq = 0;
    function loadAnalytics() {
      const seq = ++loadSeq;
      const product = state.product;
      analytics.setAttribute("aria-busy", "true");
      analytics.style.opacity = analytics.childElementCount ? ".55" : "";
      gql(ANALYTICS_QUERY, { product, first: SECTION_PAGE }).then((data) => {
        if (!ctx.alive() || seq !== loadSeq) return;
        analytics.replaceChildren(renderAnalytics(data.analytics));
        analytics.dataset.product = data.analytics.product;
      }).catch((err) => {
        if (!ctx.alive() || seq !== loadSeq) return;
        analytics.replaceChildren(errorBox(err, "analytics-error"));
      }).finally(() => {
        if (seq !== loadSeq) return;
        analytics.removeAttribute("aria-busy");
        analytics.style.opacity = "";
      });
    }
    loadAnalytics();
    return { name: "overview" };
  }

  function renderAnalytics(a) {
    const product = PRODUCT[a.product];
    const last = a.licenseTrend[a.licenseTrend.length - 1] || { total: 0, assigned: 0, used: 0 };
    const legend = h("div", { class: "legend", testid: "trend-legend" },
      [["total", "Total", "var(--total)"], ["assigned", "Assigned", "var(--assigned)"], ["used", "Used", "var(--used)"]].map(([key, label, color]) =>
        h("span", { class: "legend-item" }, h("span", { class: "swatch", style: `background:${color}` }), label, " ",
          h("b", { testid: `trend-latest-${key}` }, fmtInt(last[key])))));
    const trend = h("section", { class: "card", testid: "trend" },
      h("div", { class: "card-head" },
        h("div", null, h("h2", null, `${product} licence distribution`), h("div", { class: "sub" }, `Weekly, last 12 weeks to ${fmtDate(a.asOf)}; live plans only`)),
        legend),
      h("div", { class: "card-body" }, trendChart(a.licenseTrend)));
    return h("div", null, trend, SECTIONS.map((sec) => renderSection(sec, a[sec.key], a.product)));
  }

  function renderSection(section, data, product) {
    const tbody = h("tbody");
    const shown = h("span", { class: "faint" });
    const more = h("button", { type: "button", class: "btn btn-sm", testid: `more-${section.key}` }, "Show more");
    const msg = h("div");
    let page = data.rows;
    const count = { n: 0 };

    function addRows(rows) {
      for (const { node: row } of rows.edges) {
        tbody.append(h("tr", null,
          h("td", { class: "name" }, h("a", { href: customerHref(row.customer.id) }, row.customer.name)),
          h("td", null, h("div", null, badge(PLAN_TYPE[row.planType], row.planType === "TRIAL" ? "accent" : "")), h("div", { class: "faint" }, row.subscriptionId)),
          COMMON_COLUMNS.concat(section.columns).map((col) =>
            h("td", { class: col.num ? "num" : null }, col.cell ? col.cell(row[col.key]) : col.fmt(row[col.key])))));
        count.n += 1;
      }
      page = rows;
      shown.textContent = `Showing ${fmtInt(count.n)} of ${fmtInt(rows.totalCount)} rows`;
      more.hidden = !rows.pageInfo.hasNextPage;
    }

    more.addEventListener("click", async () => {
      more.disabled = true;
      msg.replaceChildren();
      try {
        const next = await gql(sectionPageQuery(section), { product, first: 25, after: page.pageInfo.endCursor });
        addRows(next.analytics[section.key].rows);
      } catch (err) {
        msg.replaceChildren(errorBox(err));
      } finally {
        more.disabled = false;
      }
    });

    const empty = data.rows.totalCount === 0;
    const card = h("section", { class: "card", id: `section-${section.key}`, testid: `section-${section.key}` },
      h("div", { class: "card-head" },
        h("div", null, h("h2", null, section.title), h("div", { class: "sub" }, section.sub)),
        h("div", { class: "kpi-chips" }, section.kpis.map(([key, label, fmt]) =>
          h("div", { class: "chip" }, h("small", null, label), h("b", { testid: `${section.key}-${key}` }, fmt(data[key])))))),
      empty
        ? h("div", { class: "empty" }, `No ${PRODUCT[product]} customers in this section.`)
        : h("div", { class: "table-wrap" }, h("table", null,
          h("thead", null, h("tr", null, h("th", null, "Customer"), h("th", null, "Plan"),
            COMMON_COLUMNS.concat(section.columns).map((col) => h("th", { class: col.num ? "num" : null }, col.label)))),
          tbody)),
      empty ? null : h("div", { class: "card-foot" }, shown, more),
      msg);
    if (!empty) addRows(data.rows);
    return card;
  }

  // ------------------------------------------------------------ chart (inline SVG)

  function niceStep(raw) {
    const power = 10 ** Math.floor(Math.log10(raw));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * power >= raw) return m * power;
    return 10 * power;
  }

  function trendChart(points) {
    if (!points.length) return h("div", { class: "empty" }, "No data.");
    const W = 900, H = 240, m = { l: 52, r: 24, t: 12, b: 28 };
    const iw = W - m.l - m.r, ih = H - m.t - m.b;
    const peak = Math.max(1, ...points.flatMap((p) => [p.total, p.assigned, p.used]));
    const step = niceStep(peak / 4);
    const top = Math.ceil(peak / step) * step;
    const x = (i) => m.l + (points.length === 1 ? iw / 2 : (i * iw) / (points.length - 1));
    const y = (v) => m.t + ih * (1 - v / top);
    const line = (key) => points.map((p, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(p[key]).toFixed(1)}`).join("");

    const grid = s("g", { class: "grid" });
    const yAxis = s("g", { class: "axis" });
    for (let v = 0; v <= top + 1e-9; v += step) {
      grid.append(s("line", { x1: m.l, x2: W - m.r, y1: y(v), y2: y(v) }));
      yAxis.append(s("text", { x: m.l - 8, y: y(v) + 4, "text-anchor": "end" }, fmtCompact(v)));
    }
    const xAxis = s("g", { class: "axis" });
    points.forEach((p, i) => {
      if ((points.length - 1 - i) % 2 !== 0) return;
      const anchor = i === points.length - 1 && points.length > 1 ? "end" : i === 0 ? "start" : "middle";
      xAxis.append(s("text", { x: x(i), y: H - 6, "text-anchor": anchor }, fmtShort(p.date)));
    });

    const area = `${line("total")}L${x(points.length - 1).toFixed(1)},${y(0)}L${x(0).toFixed(1)},${y(0)}Z`;
    const series = ["total", "assigned", "used"].map((key) =>
      s("path", { d: line(key), class: `series-${key}`, fill: "none", "stroke-width": key === "total" ? 2 : 2.5, "stroke-linejoin": "round", "stroke-linecap": "round", "data-series": key }));
    const dots = s("g", null, points.flatMap((p, i) => ["total", "assigned", "used"].map((key) =>
      s("circle", { cx: x(i), cy: y(p[key]), r: 2.8, class: `series-${key}`, fill: "#fff", "stroke-width": 2 },
        s("title", null, `${fmtDate(p.date)} — ${key}: ${fmtInt(p[key])}`)))));
    const hoverLine = s("line", { class: "hover-line", y1: m.t, y2: m.t + ih, visibility: "hidden" });
    const overlay = s("rect", { x: m.l, y: m.t, width: iw, height: ih, fill: "transparent" });

    const svg = s("svg", {
      viewBox: `0 0 ${W} ${H}`, role: "img", "data-testid": "trend-chart", "data-points": points.length,
      "aria-label": `Licence trend: latest total ${points[points.length - 1].total}, assigned ${points[points.length - 1].assigned}, used ${points[points.length - 1].used}`,
    }, grid, yAxis, xAxis, s("path", { d: area, class: "area-total" }), series, hoverLine, dots, overlay);

    const tooltip = $("#tooltip");
    overlay.addEventListener("mousemove", (event) => {
      const box = svg.getBoundingClientRect();
      const sx = ((event.clientX - box.left) / box.width) * W;
      const i = Math.max(0, Math.min(points.length - 1, Math.round(((sx - m.l) / iw) * (points.length - 1))));
      const p = points[i];
      hoverLine.setAttribute("x1", x(i));
      hoverLine.setAttribute("x2", x(i));
      hoverLine.setAttribute("visibility", "visible");
      tooltip.replaceChildren(
        h("div", { class: "tt-date" }, `Week to ${fmtDate(p.date)}`),
        [["Total", "total"], ["Assigned", "assigned"], ["Used", "used"]].map(([label, key]) =>
          h("div", { class: "tt-row" }, h("span", null, label), h("b", null, fmtInt(p[key])))));
      tooltip.hidden = false;
      const left = box.left + (x(i) / W) * box.width;
      tooltip.style.left = `${Math.min(left + 12, window.innerWidth - 170)}px`;
      tooltip.style.top = `${event.clientY - 20}px`;
    });
    overlay.addEventListener("mouseleave", () => {
      hoverLine.setAttribute("visibility", "hidden");
      tooltip.hidden = true;
    });
    return h("div", { class: "chart" }, svg);
  }

  // ------------------------------------------------------------ customer list

  const CUSTOMERS_QUERY = `query Customers($first: Int, $after: String, $last: Int, $before: String, $filter: CustomerFilter) {
    customers(first: $first, after: $after, last: $last, before: $before, filter: $filter) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      nodes { id name managedBy createdOn lastAdminActivityOn statuses products launchUrl }
    }
  }`;

  const FILTERS = [
    { key: "managedBy", label: "Managed by", options: MANAGED_BY },
    { key: "product", label: "Product", options: PRODUCT },
    { key: "status", label: "Status", options: Object.fromEntries(Object.entries(STATUS).map(([k, v]) => [k, v[0]])) },
    { key: "type", label: "Subscription type", options: PLAN_TYPE },
  ];
  const FILTER_KEYS = ["q", ...FILTERS.map((f) => f.key)];

  function listHash(params) {
    const qs = new URLSearchParams();
    for (const key of [...FILTER_KEYS, "after", "before", "offset"]) if (params[key]) qs.set(key, params[key]);
    const text = qs.toString();
    return `#/customers${text ? `?${text}` : ""}`;
  }

  function mountCustomers(root, initial, ctx) {
    let params = { ...initial };
    const search = h("input", { type: "search", placeholder: "Search by name…", "aria-label": "Search customers", testid: "filter-q" });
    const selects = Object.fromEntries(FILTERS.map((f) => [f.key,
      h("select", { "aria-label": f.label, testid: `filter-${f.key}` },
        h("option", { value: "" }, "Any"),
        Object.entries(f.options).map(([value, label]) => h("option", { value }, label)))]));
    const reset = h("button", { type: "button", class: "btn btn-ghost", testid: "filter-reset" }, "Reset");
    const count = h("span", { class: "muted", testid: "result-count" }, "");
    const body = h("div", { testid: "customers" }, h("div", { class: "loading" }, "Loading customers…"));
    const range = h("span", { class: "faint", testid: "page-range" });
    const prev = h("button", { type: "button", class: "btn btn-sm", testid: "prev-page", disabled: true }, "← Previous");
    const next = h("button", { type: "button", class: "btn btn-sm", testid: "next-page", disabled: true }, "Next →");
    const newTrialButton = h("button", { type: "button", class: "btn btn-primary", testid: "new-trial-toggle" }, "Start a trial");
    const newTrialPanel = h("div", { class: "new-trial", hidden: true, testid: "new-trial" });

    const update = (changes, replace = false) => {
      const merged = { ...params, ...changes };
      delete merged.after; delete merged.before; delete merged.offset;
      navigate(listHash(merged), { replace });
    };
    let typing;
    search.addEventListener("input", () => {
      clearTimeout(typing);
      typing = setTimeout(() => update({ q: search.value.trim() }, true), 300);
    });
    search.addEventListener("keydown", (event) => {
      if (event.key === "Enter") { clearTimeout(typing); update({ q: search.value.trim() }, true); }
    });
    for (const [key, select] of Object.entries(selects)) select.addEventListener("change", () => update({ [key]: select.value }));
    reset.addEventListener("click", () => navigate("#/customers"));
    newTrialButton.addEventListener("click", () => {
      newTrialPanel.hidden = !newTrialPanel.hidden;
      if (!newTrialPanel.hidden && !newTrialPanel.childElementCount) {
        newTrialPanel.append(startTrialForm({ newCustomer: true, onStarted: (trial) => navigate(customerHref(trial.customer.id)) }));
      }
      if (!newTrialPanel.hidden) $("input", newTrialPanel).focus();
    });

    root.append(
      h("div", { class: "page-head" },
        h("div", null, h("h1", null, "Customers"), h("div", { class: "sub" }, count)),
        newTrialButton),
      h("section", { class: "card" },
        newTrialPanel,
        h("div", { class: "filters" },
          h("label", { class: "field" }, h("span", null, "Search"), search),
          FILTERS.map((f) => h("label", { class: "field" }, h("span", null, f.label), selects[f.key])),
          reset),
        body,
        h("div", { class: "card-foot" }, range, h("div", { class: "pager" }, prev, next))));

    let current = null;
    let seq = 0;
    async function load() {
      const mine = ++seq;
      if (document.activeElement !== search) search.value = params.q || "";
      for (const f of FILTERS) selects[f.key].value = params[f.key] || "";
      const filter = {};
      if (params.q) filter.search = params.q;
      if (params.managedBy) filter.managedBy = params.managedBy;
      if (params.product) filter.products = [params.product];
      if (params.status) filter.statuses = [params.status];
      if (params.type) filter.subscriptionType = params.type;
      const vars = { filter };
      if (params.before) { vars.last = PAGE_SIZE; vars.before = params.before; } else { vars.first = PAGE_SIZE; if (params.after) vars.after = params.after; }
      body.setAttribute("aria-busy", "true");
      body.style.opacity = ".55";
      try {
        const data = await gql(CUSTOMERS_QUERY, vars);
        if (!ctx.alive() || mine !== seq) return;
        current = data.customers;
        renderList(current);
      } catch (err) {
        if (!ctx.alive() || mine !== seq) return;
        body.replaceChildren(errorBox(err, "customers-error"));
      } finally {
        if (mine === seq) { body.removeAttribute("aria-busy"); body.style.opacity = ""; }
      }
    }

    function renderList(conn) {
      const offset = Number(params.offset) || 0;
      count.textContent = `${fmtInt(conn.totalCount)} customer${conn.totalCount === 1 ? "" : "s"}${FILTER_KEYS.some((k) => params[k]) ? " match the filters" : ""}`;
      count.dataset.total = conn.totalCount;
      range.textContent = conn.nodes.length ? `${fmtInt(offset + 1)}–${fmtInt(offset + conn.nodes.length)} of ${fmtInt(conn.totalCount)}` : "";
      prev.disabled = !conn.pageInfo.hasPreviousPage;
      next.disabled = !conn.pageInfo.hasNextPage;
      if (!conn.nodes.length) {
        body.replaceChildren(h("div", { class: "empty", testid: "customers-empty" }, "No customers match these filters."));
        return;
      }
      body.replaceChildren(h("div", { class: "table-wrap" }, h("table", { testid: "customers-table" },
        h("thead", null, h("tr", null, ["Customer", "Status", "Products", "Managed by", "Added", "Last admin activity", ""].map((t) => h("th", null, t)))),
        h("tbody", null, conn.nodes.map((c) => h("tr", {
          class: "clickable", testid: "customer-row", "data-id": c.id,
          onclick: (event) => { if (!event.target.closest("a")) navigate(customerHref(c.id)); },
        },
          h("td", { class: "name" }, h("a", { href: customerHref(c.id) }, c.name)),
          h("td", null, h("div", { class: "badges" }, c.statuses.map(statusBadge))),
          h("td", null, c.products.length ? c.products.map((p) => PRODUCT[p]).join(", ") : h("span", { class: "faint" }, "—")),
          h("td", null, MANAGED_BY[c.managedBy]),
          h("td", { class: "num" }, fmtDate(c.createdOn)),
          h("td", { class: "num" }, fmtDate(c.lastAdminActivityOn)),
          h("td", { class: "num" }, h("a", { href: c.launchUrl, target: "_blank", rel: "noopener", title: "Open the customer's admin portal" }, "Launch ↗"))))))));
    }

    prev.addEventListener("click", () => {
      if (!current) return;
      const offset = Math.max(0, (Number(params.offset) || 0) - PAGE_SIZE);
      const p = { ...params, before: current.pageInfo.startCursor, offset: String(offset) };
      delete p.after;
      navigate(listHash(offset === 0 ? { ...p, before: null, offset: null } : p));
    });
    next.addEventListener("click", () => {
      if (!current) return;
      const p = { ...params, after: current.pageInfo.endCursor, offset: String((Number(params.offset) || 0) + PAGE_SIZE) };
      delete p.before;
      navigate(listHash(p));
    });

    search.value = params.q || "";
    load();
    return {
      name: "customers",
      update(newParams) { params = { ...newParams }; load(); },
    };
  }

  // ------------------------------------------------------------ customer detail

  const LINE_FIELDS = "product total assigned used usedLast90Days available overage assignmentRate usageRate";
  const CUSTOMER_QUERY = `query Customer($id: ID!) {
    customer(id: $id) {
      id name managedBy createdOn lastAdminActivityOn statuses products launchUrl
      subscriptions {
        id subscriptionId status startsOn endsOn autoRenew renewalDate daysRemaining
        licenses { ${LINE_FIELDS} }
        invoices { number issuedOn dueOn amount currency status }
        orders { number placedOn action product quantity }
      }
      trials { id trialId status startsOn endsOn daysRemaining licenses { ${LINE_FIELDS} } startedBy { displayName email } }
      partnerAdmins { id email displayName role }
    }
  }`;
  const ASSIGNABLE_QUERY = `query Assignable {
    partnerAdmins(first: 100, filter: { roles: [SALES_FULL_ADMIN, SALES_ADMIN] }) { nodes { id email displayName role } }
  }`;
  const USER_ERRORS = "userErrors { field message code }";
  const START_TRIAL = `mutation StartTrial($input: StartTrialInput!) {
    startTrial(input: $input) { trial { id trialId endsOn customer { id name } } ${USER_ERRORS} }
  }`;
  const ASSIGN = `mutation Assign($input: CustomerAdminsInput!) { assignCustomerAdmins(input: $input) { customer { id } ${USER_ERRORS} } }`;
  const UNASSIGN = `mutation Unassign($input: CustomerAdminsInput!) { unassignCustomerAdmins(input: $input) { customer { id } ${USER_ERRORS} } }`;

  function mountCustomer(root, params, ctx) {
    root.append(h("a", { class: "back", href: "#/customers", testid: "back" }, "← Customers"));
    const holder = h("div", null, h("div", { class: "loading" }, "Loading customer…"));
    root.append(holder);
    let flash = null; // { where, node }

    async function load() {
      try {
        const [data, assignable] = await Promise.all([
          gql(CUSTOMER_QUERY, { id: params.id }),
          gql(ASSIGNABLE_QUERY).catch((err) => ({ error: err })),
        ]);
        if (!ctx.alive()) return;
        if (!data.customer) {
          holder.replaceChildren(h("div", { class: "alert alert-error", testid: "not-found" },
            "This customer does not exist or is not visible to you."));
          return;
        }
        holder.replaceChildren(renderCustomer(data.customer, assignable));
        flash = null;
      } catch (err) {
        if (!ctx.alive()) return;
        holder.replaceChildren(errorBox(err, "customer-error"));
      }
    }

    function reloadWith(where, node) {
      flash = { where, node };
      return load();
    }

    function renderCustomer(c, assignable) {
      const flashFor = (where) => (flash && flash.where === where ? flash.node : null);
      const head = h("div", { class: "detail-head" },
        h("div", null,
          h("h1", { testid: "customer-name" }, c.name),
          h("div", { class: "badges", testid: "customer-statuses" }, c.statuses.map(statusBadge)),
          h("div", { class: "meta" },
            h("span", null, "Managed by ", h("b", null, MANAGED_BY[c.managedBy])),
            h("span", null, "Added ", h("b", null, fmtDate(c.createdOn))),
            h("span", null, "Last admin activity ", h("b", null, fmtDate(c.lastAdminActivityOn))),
            h("span", null, "Products ", h("b", null, c.products.length ? c.products.map((p) => PRODUCT[p]).join(", ") : "none live")))),
        h("a", { class: "btn", href: c.launchUrl, target: "_blank", rel: "noopener", testid: "launch" }, "Launch admin portal ↗"));

      const subs = h("section", { class: "card", testid: "subscriptions" },
        h("div", { class: "card-head" }, h("h2", null, "Subscriptions"), h("span", { class: "sub" }, `${c.subscriptions.length} in all`)),
        c.subscriptions.length ? c.subscriptions.map(renderSubscription) : h("div", { class: "empty" }, "No subscriptions yet."));

      const active = c.trials.find((t) => t.status === "ACTIVE");
      const trials = h("section", { class: "card", testid: "trials" },
        h("div", { class: "card-head" }, h("h2", null, "Trials"), h("span", { class: "sub" }, active ? `Active until ${fmtDate(active.endsOn)}` : "No active trial")),
        flashFor("trials") ? h("div", { class: "card-body" }, flashFor("trials")) : null,
        c.trials.length
          ? h("div", { class: "table-wrap" }, h("table", { testid: "trials-table" },
            h("thead", null, h("tr", null, ["Trial", "Status", "Starts", "Ends", "Remaining", "Licences", "Started by"].map((t) => h("th", null, t)))),
            h("tbody", null, c.trials.map((t) => h("tr", { testid: "trial-row", "data-trial-id": t.trialId },
              h("td", null, h("code", null, t.trialId)),
              h("td", null, badge(t.status.charAt(0) + t.status.slice(1).toLowerCase(), PLAN_STATUS[t.status])),
              h("td", { class: "nowrap" }, fmtDate(t.startsOn)),
              h("td", { class: "nowrap" }, fmtDate(t.endsOn)),
              h("td", { class: "nowrap" }, t.status === "ACTIVE" ? fmtDays(t.daysRemaining) : "—"),
              h("td", null, t.licenses.map((l) => `${PRODUCT[l.product]} ${fmtInt(l.total)}`).join(", ") || "—"),
              h("td", null, t.startedBy ? t.startedBy.displayName : h("span", { class: "faint" }, "—")))))))
          : h("div", { class: "empty" }, "No trials yet."),
        h("div", { class: "card-foot", style: "display:block" },
          h("h3", { style: "margin-bottom:10px" }, "Start a trial"),
          active ? h("p", { class: "form-note", style: "margin-bottom:10px" }, `${active.trialId} is active; a customer has one active trial at a time.`) : null,
          startTrialForm({
            customerId: c.id,
            onStarted: (trial) => reloadWith("trials", h("div", { class: "alert alert-ok", testid: "trial-started" },
              `Trial ${trial.trialId} started; it ends ${fmtDate(trial.endsOn)}.`)),
          })));

      const admins = h("section", { class: "card", testid: "admins" },
        h("div", { class: "card-head" }, h("h2", null, "Partner admins"), h("span", { class: "sub" }, "Sales admins assigned to this customer")),
        flashFor("admins") ? h("div", { class: "card-body" }, flashFor("admins")) : null,
        c.partnerAdmins.length
          ? h("ul", { class: "admin-list", testid: "admin-list" }, c.partnerAdmins.map((a) => {
            const msg = h("div", { class: "form-msg" });
            const button = h("button", { type: "button", class: "btn btn-sm btn-danger", testid: `unassign-${a.email}` }, "Remove");
            button.addEventListener("click", () => runMutation(button, msg, UNASSIGN, "unassignCustomerAdmins",
              { customerId: c.id, adminIds: [a.id] },
              () => reloadWith("admins", h("div", { class: "alert alert-ok", testid: "admin-changed" }, `${a.displayName} no longer has access to ${c.name}.`)),
              "admin-error"));
            return h("li", { testid: "admin-row", "data-email": a.email },
              h("div", { style: "display:flex;flex-direction:column;gap:6px;min-width:0;flex:1" },
                h("div", { class: "admin-row" }, h("span", { class: "avatar" }, initials(a.displayName)),
                  h("div", { class: "admin-who" }, h("b", null, a.displayName), h("span", null, `${a.email} · ${ROLE[a.role]}`))),
                msg),
              button);
          }))
          : h("div", { class: "empty" }, "No sales admins assigned. Partner-wide admins see every customer."),
        h("div", { class: "card-foot", style: "display:block" }, assignForm(c, assignable)));

      return h("div", null, head, h("div", { class: "detail-grid" }, h("div", null, subs, trials), h("div", null, admins)));
    }

    function assignForm(c, assignable) {
      if (assignable.error) {
        return h("div", { testid: "assignable-error" }, h("h3", { style: "margin-bottom:8px" }, "Assign an admin"),
          assignable.error.code === "FORBIDDEN"
            ? h("p", { class: "form-note" }, "Your role cannot list the partner's admins.")
            : errorBox(assignable.error));
      }
      const assigned = new Set(c.partnerAdmins.map((a) => a.id));
      const candidates = assignable.partnerAdmins.nodes.filter((a) => !assigned.has(a.id));
      const select = h("select", { "aria-label": "Admin to assign", testid: "assign-select" },
        candidates.map((a) => h("option", { value: a.id, "data-email": a.email }, `${a.displayName} (${ROLE[a.role]})`)));
      const button = h("button", { type: "submit", class: "btn btn-primary", testid: "assign", disabled: !candidates.length }, "Assign");
      const msg = h("div", { class: "form-msg" });
      const form = h("form", { class: "form", novalidate: true, testid: "assign-form" },
        h("h3", null, "Assign an admin"),
        h("div", { class: "form-row" }, h("label", { class: "field" }, h("span", null, "Sales admin"), select), button),
        msg);
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        const chosen = candidates.find((a) => a.id === select.value);
        if (!chosen) return;
        runMutation(button, msg, ASSIGN, "assignCustomerAdmins", { customerId: c.id, adminIds: [chosen.id] },
          () => reloadWith("admins", h("div", { class: "alert alert-ok", testid: "admin-changed" }, `${chosen.displayName} now has access to ${c.name}.`)),
          "admin-error");
      });
      return form;
    }

    load();
    return { name: "customer" };
  }

  function renderSubscription(sub) {
    const statusText = { ACTIVE: "Active", SUSPENDED: "Suspended", PENDING_SETUP: "Pending setup", CANCELLED: "Cancelled" }[sub.status];
    return h("div", { class: "sub-card", testid: "subscription", "data-subscription-id": sub.subscriptionId },
      h("div", { class: "sub-head" },
        h("span", { class: "sub-id" }, sub.subscriptionId),
        badge(statusText, PLAN_STATUS[sub.status]),
        sub.daysRemaining < 0 ? badge("Term ended", "") : null,
        sub.autoRenew ? badge("Auto-renews", "ok") : badge("No auto-renewal", "warn")),
      h("div", { class: "sub-facts" },
        h("span", null, "Term ", h("b", null, `${fmtDate(sub.startsOn)} – ${fmtDate(sub.endsOn)}`)),
        h("span", null, sub.renewalDate ? "Renews " : "Ends ", h("b", null, fmtDate(sub.renewalDate || sub.endsOn))),
        h("span", null, "Remaining ", h("b", null, fmtDays(sub.daysRemaining)))),
      h("div", { class: "table-wrap" }, h("table", null,
        h("thead", null, h("tr", null, h("th", null, "Product"), ["Total", "Assigned", "Used", "Used (90 d)", "Available", "Overage"].map((t) => h("th", { class: "num" }, t)), h("th", { class: "num" }, "Assignment"))),
        h("tbody", null, sub.licenses.map((l) => h("tr", null,
          h("td", null, PRODUCT[l.product]),
          [l.total, l.assigned, l.used, l.usedLast90Days, l.available].map((v) => h("td", { class: "num" }, fmtInt(v))),
          h("td", { class: "num" }, l.overage ? badge(fmtInt(l.overage), "bad") : "0"),
          h("td", { class: "num" }, rateCell(l.assignmentRate))))))),
      h("details", null,
        h("summary", null, `Invoices (${sub.invoices.length}) and orders (${sub.orders.length})`),
        sub.invoices.length ? h("table", null,
          h("thead", null, h("tr", null, ["Invoice", "Issued", "Due", "Status"].map((t) => h("th", null, t)), h("th", { class: "num" }, "Amount"))),
          h("tbody", null, sub.invoices.map((inv) => h("tr", null,
            h("td", null, inv.number), h("td", { class: "nowrap" }, fmtDate(inv.issuedOn)), h("td", { class: "nowrap" }, fmtDate(inv.dueOn)),
            h("td", null, badge(inv.status.charAt(0) + inv.status.slice(1).toLowerCase(), PLAN_STATUS[inv.status])),
            h("td", { class: "num" }, `${Number(inv.amount).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })} ${inv.currency}`))))) : h("p", { class: "faint" }, "No invoices."),
        sub.orders.length ? h("table", null,
          h("thead", null, h("tr", null, ["Order", "Placed", "Action", "Product"].map((t) => h("th", null, t)), h("th", { class: "num" }, "Quantity"))),
          h("tbody", null, sub.orders.map((o) => h("tr", null,
            h("td", null, o.number), h("td", { class: "nowrap" }, fmtDate(o.placedOn)),
            h("td", null, o.action.replace(/_/g, " ").toLowerCase().replace(/^./, (ch) => ch.toUpperCase())),
            h("td", null, PRODUCT[o.product]), h("td", { class: "num" }, fmtInt(o.quantity)))))) : h("p", { class: "faint" }, "No orders.")));
  }

  // A start-trial form for an existing customer (customerId) or a new one (newCustomer).
  function startTrialForm({ customerId, newCustomer = false, onStarted }) {
    const name = newCustomer ? h("input", { type: "text", name: "name", placeholder: "New customer name", testid: "trial-name" }) : null;
    const managedBy = newCustomer ? h("select", { name: "managedBy", testid: "trial-managed-by" },
      Object.entries(MANAGED_BY).map(([v, label]) => h("option", { value: v }, label))) : null;
    const checks = Object.entries(PRODUCT).map(([value, label]) =>
      h("label", null, h("input", { type: "checkbox", name: "products", value, checked: value === "MEETINGS", testid: `trial-product-${value}` }), label));
    const licenses = h("input", { type: "number", name: "licenses", value: "25", step: "1", testid: "trial-licenses" });
    const days = h("input", { type: "number", name: "days", value: "30", step: "1", testid: "trial-days" });
    const button = h("button", { type: "submit", class: "btn btn-primary", testid: "start-trial" }, "Start trial");
    const msg = h("div", { class: "form-msg", testid: "trial-msg" });
    const form = h("form", { class: "form", novalidate: true, testid: "trial-form" },
      newCustomer ? h("div", { class: "form-row" },
        h("label", { class: "field", style: "flex:2" }, h("span", null, "Customer name"), name),
        h("label", { class: "field" }, h("span", null, "Managed by"), managedBy)) : null,
      h("div", { class: "field" }, h("span", null, "Products"), h("div", { class: "checks" }, checks)),
      h("div", { class: "form-row" },
        h("label", { class: "field" }, h("span", null, "Licences"), licenses),
        h("label", { class: "field" }, h("span", null, "Days"), days),
        button),
      msg);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const input = {
        products: checks.map((l) => l.querySelector("input")).filter((i) => i.checked).map((i) => i.value),
        licenses: Number.parseInt(licenses.value, 10),
        days: Number.parseInt(days.value, 10),
      };
      if (newCustomer) input.newCustomer = { name: name.value.trim(), managedBy: managedBy.value };
      else input.customerId = customerId;
      if (!Number.isFinite(input.licenses) || !Number.isFinite(input.days)) {
        msg.replaceChildren(h("div", { class: "alert alert-error", role: "alert" }, "Licences and days must be whole numbers."));
        return;
      }
      runMutation(button, msg, START_TRIAL, "startTrial", input, (payload) => onStarted(payload.trial), "trial-error");
    });
    return form;
  }

  // Run a mutation; show userErrors and refusals inline in `msg`, call onOk(payload) otherwise.
  async function runMutation(button, msg, query, field, input, onOk, testid) {
    button.disabled = true;
    msg.replaceChildren();
    try {
      const data = await gql(query, { input });
      const payload = data[field];
      if (payload.userErrors.length) msg.replaceChildren(userErrorsBox(payload.userErrors, testid));
      else await onOk(payload);
    } catch (err) {
      msg.replaceChildren(errorBox(err, testid));
    } finally {
      button.disabled = false;
    }
  }

  // ------------------------------------------------------------ start

  (async () => {
    if (!state.token) {
      signOut();
      return;
    }
    try {
      await signIn(state.token);
    } catch (err) {
      signOut(err.code === "UNAUTHENTICATED" ? `Your saved token is no longer accepted: ${err.message}` : describe(err).join(" "));
    }
  })();
})();
