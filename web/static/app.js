// Partner Hub dashboard: a single page on the public GraphQL API (/graphql).
// Plain modern JavaScript, no framework, no build step. Every value shown is
// fetched from the API with the token the user pasted (kept in sessionStorage).
// Every document sent is a named operation from documents.js; values travel
// in variables.
"use strict";

(() => {
  const DOCS = globalThis.PartnerHubDocuments;

  // ------------------------------------------------------------ constants

  const TOKEN_KEY = "partnerhub.token";
  const PRODUCT_KEY = "partnerhub.product";
  const PAGE_SIZES = [25, 50, 100];
  const SECTION_PAGE = 10;
  const EXPORT_PAGE = 100; // the API's largest page
  const MAX_TRIAL_DAYS = 90;

  // Status → [label, badge kind, what it means (from the help text and SPEC §2.1)].
  const STATUS = {
    SUSPENDED: ["Suspended", "bad", "One of the customer's subscriptions is suspended: it has not been paid yet."],
    LICENSE_OVERAGE: ["Licence overage", "bad", "A live subscription or trial has more licences assigned than were bought."],
    EXPIRING_SOON: ["Expiring soon", "warn", "A trial, or a subscription that does not renew automatically, ends within days (30 by default)."],
    READY_FOR_SETUP: ["Ready for order setup", "info", "A subscription has been ordered but is not set up yet: open the customer to accept the terms and set it up."],
    NO_RECENT_ACTIVITY: ["No recent activity", "", "The customer's admins have not signed in to their own admin portal for a while (30 days by default), or never."],
    TRIAL: ["Trial", "accent", "The customer has an ongoing trial."],
    SUBSCRIPTION: ["Subscription", "ok", "The customer has an active subscription."],
    EXPIRED: ["Expired", "", "The customer has no active subscription or trial, and nothing waiting for setup."],
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
  const ROLE_NOTE = {
    PARTNER_FULL_ADMIN: "Sees every customer and may do everything.",
    PARTNER_READ_ONLY_ADMIN: "Sees every customer and the audit log; changes nothing.",
    SALES_FULL_ADMIN: "Sees assigned customers; manages their trials, admins and order setup.",
    SALES_ADMIN: "Sees assigned customers; manages their trials.",
  };
  const MANAGED_BY = { PARTNER_ORG: "Partner organisation", EXTERNAL_ADMIN: "External admin" };
  const PLAN_TYPE = { SUBSCRIPTION: "Subscription", TRIAL: "Trial" };
  const PLAN_STATUS = {
    ACTIVE: "ok", SUSPENDED: "bad", PENDING_SETUP: "info", CANCELLED: "", CONVERTED: "accent",
    PAID: "ok", UNPAID: "warn", OVERDUE: "bad",
  };
  const SUB_STATUS = { ACTIVE: "Active", SUSPENDED: "Suspended", PENDING_SETUP: "Pending setup", CANCELLED: "Cancelled" };

  // Who may do what (SPEC §4). Sales roles act on the customers they see,
  // which are exactly their assigned ones, so a visible customer is "theirs".
  const GRANTS = {
    trials: ["PARTNER_FULL_ADMIN", "SALES_FULL_ADMIN", "SALES_ADMIN"],
    assign: ["PARTNER_FULL_ADMIN", "SALES_FULL_ADMIN"],
    admins: ["PARTNER_FULL_ADMIN"],
    setup: ["PARTNER_FULL_ADMIN", "SALES_FULL_ADMIN"],
    audit: ["PARTNER_FULL_ADMIN", "PARTNER_READ_ONLY_ADMIN"],
  };
  const DENIED = {
    trials: "start, extend, cancel or convert trials",
    assign: "assign admins to customers or remove them",
    admins: "add administrators, change their roles or remove them",
    setup: "complete order setups",
    audit: "read the audit log",
  };
  const WHO_MAY = {
    trials: "Partner full admins and sales admins can.",
    assign: "Partner full admins and sales full admins can.",
    admins: "Only partner full admins can.",
    setup: "Partner full admins and sales full admins can.",
    audit: "Partner full and read-only admins can.",
  };

  // ------------------------------------------------------------ state

  const state = {
    token: sessionStorage.getItem(TOKEN_KEY),
    viewer: null,
    product: sessionStorage.getItem(PRODUCT_KEY) === "CALLING" ? "CALLING" : "MEETINGS",
    features: { statusDetails: false, rowOrder: {} },
    view: null, // { name, update(params)? }
    renderId: 0,
  };

  const $ = (sel, root = document) => root.querySelector(sel);
  const can = (what) => Boolean(state.viewer) && GRANTS[what].includes(state.viewer.role);
  const roleName = () => (state.viewer ? ROLE[state.viewer.role] || state.viewer.role : "");

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

  let uid = 0;
  const nextId = (prefix) => `${prefix}-${++uid}`;

  // ------------------------------------------------------------ formatting

  const intFmt = new Intl.NumberFormat("en-US");
  const dec1 = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });
  const dateFmt = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });
  const shortDate = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", timeZone: "UTC" });
  const timeFmt = new Intl.DateTimeFormat("en-GB", {
    day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit", timeZone: "UTC",
  });

  const fmtInt = (v) => (v == null ? "—" : intFmt.format(v));
  const fmtDec = (v) => (v == null ? "—" : dec1.format(v));
  const fmtPct = (v) => (v == null ? "—" : `${dec1.format(v * 100)}%`);
  const fmtDelta = (v) => (v == null ? "—" : v > 0 ? `+${intFmt.format(v)}` : intFmt.format(v));
  const parseDate = (iso) => new Date(`${iso}T00:00:00Z`);
  const fmtDate = (iso) => (iso ? dateFmt.format(parseDate(iso)) : "—");
  const fmtShort = (iso) => shortDate.format(parseDate(iso));
  const fmtTime = (iso) => `${timeFmt.format(new Date(iso))} UTC`;
  const daysBetween = (a, b) => Math.round((parseDate(b) - parseDate(a)) / 86400000);
  const plural = (n, one, many = `${one}s`) => `${fmtInt(n)} ${n === 1 ? one : many}`;
  function fmtDays(n) {
    if (n == null) return "—";
    if (n < 0) return `ended ${plural(-n, "day")} ago`;
    return plural(n, "day");
  }
  function fmtCompact(v) {
    if (v >= 1e6) return `${dec1.format(v / 1e6)}M`;
    if (v >= 1e4) return `${dec1.format(v / 1e3)}k`;
    return intFmt.format(v);
  }
  const titleCase = (code) => code.replace(/_/g, " ").toLowerCase().replace(/^./, (ch) => ch.toUpperCase());
  const initials = (name) => name.split(/\s+/).filter(Boolean).slice(0, 2).map((p) => p[0].toUpperCase()).join("");

  // ------------------------------------------------------------ tooltips (hover and keyboard focus)

  const tips = new WeakMap();
  const tooltip = $("#tooltip");
  let tipOwner = null;

  function withTip(el, content) {
    tips.set(el, content);
    el.classList.add("has-tip");
    return el;
  }

  function showTip(owner, nodes, anchor) {
    tipOwner = owner;
    tooltip.replaceChildren(...[nodes].flat(Infinity).filter((n) => n != null));
    tooltip.hidden = false;
    owner.setAttribute("aria-describedby", "tooltip");
    const box = anchor || owner.getBoundingClientRect();
    const tw = tooltip.offsetWidth, th = tooltip.offsetHeight;
    let left = box.left + box.width / 2 - tw / 2;
    left = Math.max(6, Math.min(left, window.innerWidth - tw - 6));
    let top = box.top - th - 8;
    if (top < 6) top = box.bottom + 8;
    tooltip.style.left = `${left}px`;
    tooltip.style.top = `${top}px`;
  }

  function hideTip(owner) {
    if (owner && tipOwner !== owner) return;
    if (tipOwner) tipOwner.removeAttribute("aria-describedby");
    tipOwner = null;
    tooltip.hidden = true;
  }

  const tipTarget = (node) => (node instanceof Element ? node.closest(".has-tip") : null);
  document.addEventListener("pointerover", (event) => {
    const el = tipTarget(event.target);
    if (el && tips.has(el) && el !== tipOwner) showTip(el, tips.get(el)());
  });
  document.addEventListener("pointerout", (event) => {
    const el = tipTarget(event.target);
    if (el && el === tipOwner && !el.contains(event.relatedTarget)) hideTip(el);
  });
  document.addEventListener("focusin", (event) => {
    const el = tipTarget(event.target);
    if (el && tips.has(el)) showTip(el, tips.get(el)());
  });
  document.addEventListener("focusout", (event) => {
    const el = tipTarget(event.target);
    if (el) hideTip(el);
  });
  document.addEventListener("keydown", (event) => { if (event.key === "Escape") hideTip(); });
  window.addEventListener("scroll", () => hideTip(), { passive: true });

  const tipRows = (rows) => rows.map(([label, value, testid]) =>
    h("div", { class: "tt-row" }, h("span", null, label), h("b", { testid }, value)));

  // ------------------------------------------------------------ small components

  const badge = (text, kind, testid) => h("span", { class: `badge${kind ? ` badge-${kind}` : ""}`, testid }, text);

  // A status badge, explained on hover and focus: the API's own sentence
  // (statusDetails) when the schema has it, else the page's.
  function statusBadge(st, detail) {
    const [label, kind, meaning] = STATUS[st] || [st, "", ""];
    const el = h("span", {
      class: `badge${kind ? ` badge-${kind}` : ""}`, testid: `status-${st}`, tabindex: "0",
      "data-explained-by": detail ? "api" : "page",
    }, label);
    return withTip(el, () => [
      h("div", { class: "tt-date" }, label),
      h("div", { class: "tt-text", testid: "status-reason" }, detail ? detail.reason : meaning),
      detail && detail.since ? h("div", { class: "tt-text" }, `Since ${fmtDate(detail.since)}`) : null,
      detail && detail.until ? h("div", { class: "tt-text" }, `Until ${fmtDate(detail.until)}`) : null,
    ]);
  }

  function statusBadges(c) {
    const details = new Map((c.statusDetails || []).map((d) => [d.status, d]));
    return h("div", { class: "badges" }, c.statuses.map((st) => statusBadge(st, details.get(st))));
  }

  // The help text's licence bar: used / assigned but unused / available, with
  // the overage (assigned beyond bought) marked; the numbers on hover and focus.
  function licenceBar({ total, assigned, used }) {
    const available = Math.max(total - assigned, 0);
    const overage = Math.max(assigned - total, 0);
    const usedPart = Math.min(used, assigned);
    const scale = Math.max(total, assigned, 1);
    const pct = (v) => `${((v / scale) * 100).toFixed(2)}%`;
    const label = `Total ${fmtInt(total)}, assigned ${fmtInt(assigned)}, used ${fmtInt(used)}, available ${fmtInt(available)}`
      + (overage ? `, over the limit by ${fmtInt(overage)}` : "");
    const bar = h("span", {
      class: `lbar${overage ? " lbar-over" : ""}`, role: "img", tabindex: "0", "aria-label": label, testid: "licence-bar",
      "data-total": total, "data-assigned": assigned, "data-used": used,
    },
    h("span", { class: "lbar-used", style: `width:${pct(usedPart)}` }),
    h("span", { class: "lbar-assigned", style: `width:${pct(assigned - usedPart)}` }),
    h("span", { class: "lbar-available", style: `width:${pct(available)}` }),
    overage ? h("span", { class: "lbar-overage", style: `left:${pct(total)};width:${pct(overage)}` }) : null,
    overage ? h("span", { class: "lbar-limit", style: `left:${pct(total)}` }) : null);
    const rate = total ? assigned / total : null;
    return withTip(bar, () => [
      h("div", { class: "tt-date" }, "Licences"),
      tipRows([
        ["Total bought", fmtInt(total), "tt-total"],
        ["Assigned", `${fmtInt(assigned)}${rate == null ? "" : ` (${fmtPct(rate)})`}`, "tt-assigned"],
        ["Used (7 days)", fmtInt(used), "tt-used"],
        ["Available", fmtInt(available), "tt-available"],
        overage ? ["Over the limit", fmtInt(overage), "tt-overage"] : null,
      ].filter(Boolean)),
    ]);
  }

  const barLegend = () => h("div", { class: "bar-legend" },
    [["lbar-used", "Used"], ["lbar-assigned", "Assigned, not used"], ["lbar-available", "Available"], ["lbar-overage", "Over the limit"]]
      .map(([cls, text]) => h("span", null, h("span", { class: `swatch ${cls}` }), text)));

  function rateCell(rate, count) {
    if (rate == null) return count == null ? "—" : fmtInt(count);
    return h("span", { class: "rate" }, count == null ? null : h("span", null, fmtInt(count)), h("span", { class: "faint" }, fmtPct(rate)));
  }

  // A dropdown of checkboxes: the API's list filters OR their values together.
  function multiSelect({ label, options, selected, testid, onChange }) {
    const chosen = new Set(selected);
    const summary = h("summary", { class: "multi-summary" });
    const paint = () => {
      const names = Object.keys(options).filter((k) => chosen.has(k)).map((k) => options[k]);
      summary.textContent = names.length === 0 ? "Any" : names.length <= 2 ? names.join(", ") : `${names.length} selected`;
    };
    const boxes = Object.entries(options).map(([value, text]) =>
      h("label", { class: "multi-option" },
        h("input", {
          type: "checkbox", value, checked: chosen.has(value), testid: `${testid}-${value}`,
          onchange: (event) => {
            if (event.target.checked) chosen.add(value); else chosen.delete(value);
            paint();
            onChange([...Object.keys(options)].filter((k) => chosen.has(k)));
          },
        }), text));
    const details = h("details", { class: "multi", testid },
      summary,
      h("fieldset", { class: "multi-menu" }, h("legend", { class: "sr-only" }, label), boxes,
        h("button", {
          type: "button", class: "btn btn-sm btn-ghost", testid: `${testid}-clear`,
          onclick: () => { chosen.clear(); for (const b of boxes) b.querySelector("input").checked = false; paint(); onChange([]); },
        }, "Clear")));
    summary.setAttribute("aria-label", `${label}: choose one or more`);
    details.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && details.open) { details.open = false; summary.focus(); }
    });
    paint();
    return details;
  }
  document.addEventListener("click", (event) => {
    for (const open of document.querySelectorAll("details.multi[open]")) if (!open.contains(event.target)) open.open = false;
  });

  // A modal confirmation (native <dialog>): resolves true when confirmed.
  function confirmDialog({ title, body, confirmLabel, danger = false }) {
    return new Promise((resolve) => {
      const ok = h("button", { type: "button", class: `btn ${danger ? "btn-danger-solid" : "btn-primary"}`, testid: "confirm-ok" }, confirmLabel);
      const cancel = h("button", { type: "button", class: "btn", testid: "confirm-cancel" }, "Keep as is");
      const titleId = nextId("dlg");
      const dialog = h("dialog", { class: "dialog", testid: "confirm-dialog", "aria-labelledby": titleId },
        h("h2", { id: titleId }, title),
        h("div", { class: "dialog-body" }, body),
        h("div", { class: "dialog-actions" }, cancel, ok));
      const done = (answer) => { dialog.close(); dialog.remove(); resolve(answer); };
      ok.addEventListener("click", () => done(true));
      cancel.addEventListener("click", () => done(false));
      dialog.addEventListener("cancel", (event) => { event.preventDefault(); done(false); });
      document.body.append(dialog);
      dialog.showModal();
      cancel.focus();
    });
  }

  // The note shown instead of controls a role may not use (SPEC §4).
  function deniedNote(what, actions, extra) {
    return h("p", { class: "denied", testid: `denied-${what}`, "data-denied": actions.join(" ") },
      h("b", null, "Not available to your role. "),
      `Your role (${roleName()}) cannot ${DENIED[what]}. ${WHO_MAY[what]}`, extra ? ` ${extra}` : "");
  }

  const okFlash = (text, testid = "flash") => h("div", { class: "alert alert-ok", role: "status", testid, tabindex: "-1" }, text);

  // ------------------------------------------------------------ API

  class ApiError extends Error {
    constructor(code, message, status) {
      super(message);
      this.code = code;
      this.status = status;
    }
  }

  async function gql(name, variables = {}, { signal } = {}) {
    const query = DOCS[name];
    if (!query) throw new Error(`No document named ${name} in documents.js`);
    let response;
    try {
      response = await fetch("/graphql", {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/graphql-response+json, application/json",
          ...(state.token ? { Authorization: `Bearer ${state.token}` } : {}),
        },
        body: JSON.stringify({ query, operationName: name, variables }),
        signal,
      });
    } catch (err) {
      if (err.name === "AbortError") throw err;
      throw new ApiError("NETWORK", "Could not reach the server. Check that Partner Hub is running and try again.");
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
      err.data = body.data;
      err.retryAfter = Number(response.headers.get("Retry-After")) || null;
      if (code === "UNAUTHENTICATED" && state.viewer) signOut(EXPIRED);
      throw err;
    }
    if (!response.ok) throw new ApiError("HTTP", `The server answered HTTP ${response.status}.`, response.status);
    return body.data;
  }

  // A GraphQL (request or field) error as a sentence for people; never the raw code.
  function describe(err) {
    if (!(err instanceof ApiError)) return "Something went wrong in the page. Reload it and try again.";
    switch (err.code) {
      case "FORBIDDEN":
        return `Your role (${roleName()}) does not allow this. Ask a partner full admin if you need it done.`;
      case "UNAUTHENTICATED":
        return "Your token was not accepted. Sign in again with a valid token.";
      case "BAD_USER_INPUT":
        return "The server could not accept one of the values entered (for example an invisible control character, or a value of the wrong kind). Check the fields and try again.";
      case "RATE_LIMITED":
        return `The server is busy with your earlier requests. Wait ${err.retryAfter ? plural(err.retryAfter, "second") : "a moment"} and try again.`;
      case "QUERY_TOO_COMPLEX":
        return "This request is larger than the server allows. Choose a smaller page size.";
      case "INTERNAL_SERVER_ERROR":
      case "SERVICE_UNAVAILABLE":
        return "The server could not answer just now. Try again in a moment.";
      case "NETWORK":
      case "BAD_RESPONSE":
      case "HTTP":
        return err.message;
      default:
        return "The server could not do this. Try again, or reload the page.";
    }
  }

  function errorBox(err, testid = "error") {
    return h("div", { class: "alert alert-error", role: "alert", testid, "data-code": err.code || "" }, describe(err));
  }

  // userErrors: a plain sentence for each code (and, for INVALID_INPUT, field).
  const INVALID_TEXT = {
    licenses: "Enter a whole number of licences from 1 to 1,000.",
    "startTrial.days": `Enter a trial length from 1 to ${MAX_TRIAL_DAYS} days.`,
    "extendTrial.days": "Enter at least 1 day to extend by.",
    products: "Choose at least one product, each once.",
    "newCustomer.name": "Enter the new customer's name (1 to 200 characters, with at least one visible character).",
    newCustomer: "Enter the new customer's name.",
    customerId: "Choose a customer.",
    email: "Enter a valid email address, such as name@example.com.",
    displayName: "Enter a name of 1 to 200 characters.",
    subscriptionId: "Enter a subscription ID of 1 to 100 characters.",
    termMonths: "Enter a term from 1 to 60 months.",
    adminIds: "Choose at least one sales admin.",
    role: "Choose a role.",
    acceptTerms: "Accept the terms and conditions to set up the order.",
  };
  const CODE_TEXT = {
    TRIAL_ALREADY_ACTIVE: "This customer already has an active trial; a customer has one at a time. Extend, convert or cancel it instead.",
    NAME_TAKEN: "A customer with this name already exists (capitals and small letters count as the same). Choose another name, or find the customer in the list.",
    NOT_FOUND: "This no longer exists, or is no longer visible to you. Reload the page to see the current state.",
    TRIAL_NOT_ACTIVE: "This trial is no longer active (it was converted or cancelled), so it cannot be changed. Reload the page to see its current state.",
    TRIAL_TOO_LONG: `A trial can last at most ${MAX_TRIAL_DAYS} days in all, counted from its first day. Choose fewer days.`,
    ALREADY_HAS_ACCESS: "This admin's role already sees every customer, so there is nothing to assign.",
    EMAIL_TAKEN: "An administrator with this email address already exists.",
    LAST_FULL_ADMIN: "This is the partner's only full admin, and the partner must always keep one. Make another administrator a Partner full admin first; then this one can be changed or removed.",
    TERMS_NOT_ACCEPTED: "Accept the terms and conditions to set up the order.",
    NOTHING_TO_SET_UP: "This customer has no order waiting for setup any more (someone may have just set it up). Reload the page.",
    SUBSCRIPTION_ID_TAKEN: "Another subscription already has this ID. Enter a different subscription ID.",
  };
  const fieldKey = (path) => (path || []).filter((p, i) => !(i === 0 && p === "input")).filter((p) => !/^\d+$/.test(p)).join(".");
  function userErrorText(mutation, e) {
    const key = fieldKey(e.field);
    if (e.code === "INVALID_INPUT") return INVALID_TEXT[`${mutation}.${key}`] || INVALID_TEXT[key] || "One of the values is not accepted. Check the fields and try again.";
    if (e.code === "NOT_FOUND" && key === "adminIds") return "That admin no longer exists. Reload the page.";
    return CODE_TEXT[e.code] || "The server did not accept this. Check the fields and try again.";
  }

  // A form that knows its fields by input path, so that each userError is
  // shown next to the field it names (others above the buttons).
  class FormErrors {
    constructor(mutation, box) {
      this.mutation = mutation;
      this.box = box; // form-level messages
      this.fields = new Map(); // field key → { control, wrap }
      this.shown = [];
    }

    field(key, control, wrap = control) {
      this.fields.set(key, { control, wrap });
      return control;
    }

    clear() {
      for (const el of this.shown) el.remove();
      this.shown = [];
      for (const { control } of this.fields.values()) {
        control.removeAttribute("aria-invalid");
        control.removeAttribute("aria-errormessage");
        control.removeAttribute("aria-describedby");
      }
      this.box.replaceChildren();
    }

    show(userErrors) {
      this.clear();
      const loose = [];
      let firstControl = null;
      for (const e of userErrors) {
        const key = fieldKey(e.field);
        const text = userErrorText(this.mutation, e);
        const spot = this.fields.get(key) || (key.includes(".") ? this.fields.get(key.split(".")[0]) : null);
        if (!spot) { loose.push([e, text]); continue; }
        const id = nextId("err");
        const msg = h("p", { class: "field-error", id, role: "alert", testid: "field-error", "data-code": e.code, "data-field": key }, text);
        spot.wrap.after(msg);
        this.shown.push(msg);
        spot.control.setAttribute("aria-invalid", "true");
        spot.control.setAttribute("aria-errormessage", id);
        spot.control.setAttribute("aria-describedby", id);
        firstControl = firstControl || spot.control;
      }
      if (loose.length) {
        this.box.replaceChildren(h("div", { class: "alert alert-error", role: "alert", testid: "form-error", "data-code": loose[0][0].code },
          loose.length === 1 ? loose[0][1] : h("ul", null, loose.map(([e, text]) => h("li", { "data-code": e.code }, text)))));
      }
      if (firstControl) firstControl.focus();
    }

    fail(err) {
      this.clear();
      this.box.replaceChildren(errorBox(err, "form-error"));
      if (err.code === "FORBIDDEN") refreshViewer();
    }
  }

  // Run a mutation from a form: busy button, userErrors by field, onOk(payload) on success.
  async function submit(errors, button, name, field, input, onOk) {
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    errors.clear();
    try {
      const data = await gql(name, { input });
      const payload = data[field];
      if (payload.userErrors.length) errors.show(payload.userErrors);
      else await onOk(payload);
    } catch (err) {
      errors.fail(err);
    } finally {
      button.disabled = false;
      button.removeAttribute("aria-busy");
    }
  }

  // ------------------------------------------------------------ feature detection (once, at start-up)

  const SECTION_TYPES = {
    recentlyAdded: "RecentlyAdded", expiring: "Expiring", renewing: "Renewing", lowAssignment: "LowAssignment", overLimit: "OverLimit",
  };
  const unwrap = (type) => (type && type.kind === "NON_NULL" ? type.ofType : type);

  async function detectFeatures() {
    const features = { statusDetails: false, rowOrder: {} };
    try {
      const data = await gql("Features");
      const names = (t) => new Set(((t && t.fields) || []).map((f) => f.name));
      const detailFields = names(data.statusDetail);
      features.statusDetails = names(data.customer).has("statusDetails")
        && ["status", "reason", "since", "until"].every((f) => detailFields.has(f));
      for (const [key, typeName] of Object.entries(SECTION_TYPES)) {
        const rows = ((data[key] && data[key].fields) || []).find((f) => f.name === "rows");
        const arg = rows && rows.args.find((a) => a.name === "orderBy");
        if (!arg) continue;
        const input = unwrap(arg.type);
        // documents.js declares $orderBy: <Section>RowOrder; anything else would not validate.
        if (!input || input.kind !== "INPUT_OBJECT" || input.name !== `${typeName}RowOrder`) {
          console.info(`partnerhub: ${key}.rows(orderBy:) has type ${input && input.name}; the page's documents expect ${typeName}RowOrder, so its columns stay unsorted`);
          continue;
        }
        const fieldInput = (input.inputFields || []).find((f) => f.name === "field");
        const hasDirection = (input.inputFields || []).some((f) => f.name === "direction");
        const fieldEnum = fieldInput && unwrap(fieldInput.type);
        if (!hasDirection || !fieldEnum || fieldEnum.kind !== "ENUM") continue;
        features.rowOrder[key] = new Set((fieldEnum.enumValues || []).map((v) => v.name));
      }
    } catch (err) {
      console.info("partnerhub: feature detection failed; using today's API only", err);
    }
    state.features = features;
    document.documentElement.dataset.features = [
      features.statusDetails ? "statusDetails" : null,
      ...Object.keys(features.rowOrder).map((k) => `rowOrder:${k}`),
    ].filter(Boolean).join(" ");
  }


  // ------------------------------------------------------------ live events
  //
  // A small client of graphql-transport-ws (the protocol of the graphql-ws
  // library) on the same /graphql: connection_init with the bearer token,
  // subscribe / next / error / complete, ping / pong, and reconnection with
  // backoff. The documents are documents.js's Live* subscriptions; an event
  // carries ids only and the view refetches what it shows over HTTP. After a
  // reconnect, or a LIVE_RESET error, events may have been missed: every open
  // subscription's view refetches. Close 4401 (token revoked, admin removed)
  // signs out, as an UNAUTHENTICATED answer over HTTP does.
  //
  // The protocol does not acknowledge a subscribe, so the page sends a ping after
  // its subscribe messages: the server reads a connection's messages in order and
  // starts each subscription as it reads it, so the pong answering that ping says
  // the subscriptions sent before it are running. A view fetches what it shows
  // only then (ctx.live's promise; it waits at most LIVE_READY_MS, or not at all
  // without a connection): a change committed before the subscription was running
  // is then in that fetch, and one committed after it is announced. A view that did fetch before its subscription was
  // confirmed (the wait ran out, the connection failed or was lost, or the server
  // ended the subscription and it was sent again) fetches once more at the pong
  // that confirms it: "subscribed", "reconnect" or "reset".

  const LIVE_BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000];
  const LIVE_FULL_MS = 30000; // 4403: this token already holds the most connections (other tabs)
  const LIVE_PING_MS = 15000; // the page's own ping; no answer by the next one: the connection is dead
  const LIVE_READY_MS = 1500; // a view's first fetch waits at most this long for its subscription
  const EXPIRED = "Your token is no longer accepted (it may have been revoked, or your admin account removed). Sign in with a new token.";
  const live = {
    socket: null,
    acked: false,
    wanted: false, // signed in: keep a connection open
    everAcked: false, // a connection was up before: the next ack is a reconnection
    attempt: 0,
    timer: null,
    awaitingPong: false, // a ping went out and nothing has come back since
    lastId: 0,
    subs: new Map(), // id → { name, variables, onEvent, onReset, renderId, active, ended, retry, late, ready, readyTimer }
    unpinged: [], // subscriptions sent since the last ping went out
    pings: [], // per ping not yet answered, in order: the subscriptions its pong confirms
  };
  const LIVE_TEXT = { connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…", full: "Not live: too many tabs", off: "" };
  const LIVE_TITLE = {
    connecting: "Opening the live connection to the server",
    live: "Changes made elsewhere appear on this page as they happen",
    reconnecting: "The live connection was lost; trying again. The page refetches what it shows once it is back.",
    full: "Your token already has as many live connections as the server allows (other tabs or windows). Close one; this page tries again every 30 seconds.",
    off: "",
  };

  function liveState(kind) {
    const el = $("#live-status");
    el.dataset.state = kind;
    el.textContent = LIVE_TEXT[kind];
    el.title = LIVE_TITLE[kind];
    el.hidden = kind === "off";
    document.documentElement.dataset.live = kind;
  }

  function liveStart() {
    live.wanted = true;
    if (!live.socket && !live.timer) liveConnect();
  }

  function liveStop() {
    live.wanted = false;
    clearTimeout(live.timer);
    live.timer = null;
    for (const sub of live.subs.values()) {
      clearTimeout(sub.retry);
      liveRelease(sub);
    }
    live.subs.clear();
    const socket = live.socket;
    Object.assign(live, { socket: null, acked: false, everAcked: false, attempt: 0, unpinged: [], pings: [] });
    if (socket) socket.close(1000, "Signed out");
    liveState("off");
  }

  function liveConnect() {
    live.timer = null;
    if (!live.wanted || !state.token) return;
    const url = `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/graphql`;
    let socket;
    try {
      socket = new WebSocket(url, "graphql-transport-ws");
    } catch {
      liveRetry(false);
      return;
    }
    live.socket = socket;
    live.acked = false;
    liveState(live.everAcked ? "reconnecting" : "connecting");
    socket.addEventListener("open", () => {
      socket.send(JSON.stringify({ type: "connection_init", payload: { Authorization: `Bearer ${state.token}` } }));
    });
    socket.addEventListener("message", (event) => {
      if (socket !== live.socket) return;
      live.awaitingPong = false;
      let message;
      try { message = JSON.parse(event.data); } catch { return; }
      liveMessage(socket, message);
    });
    socket.addEventListener("close", (event) => {
      if (socket !== live.socket) return;
      liveLost();
      if (event.code === 4401) {
        signOut(EXPIRED);
        return;
      }
      if (!live.wanted) return;
      liveState(event.code === 4403 ? "full" : "reconnecting");
      liveRetry(event.code === 4403);
    });
  }

  // The connection is gone: its subscriptions are to be sent again on the next one, and
  // their views fetched again once they are confirmed (events may have been missed). A
  // view still waiting for its first fetch fetches now rather than after the backoff.
  function liveLost() {
    live.socket = null;
    live.acked = false;
    live.awaitingPong = false;
    live.unpinged = [];
    live.pings = [];
    for (const sub of live.subs.values()) {
      if (sub.active) sub.late = "reconnect";
      sub.active = false;
      liveRelease(sub);
    }
  }

  // A connection that stopped answering (a network that dropped without a close) is
  // given up after one unanswered ping, and replaced.
  setInterval(() => {
    const socket = live.socket;
    if (!socket || !live.acked) return;
    if (live.awaitingPong) {
      liveLost();
      socket.close(4000, "No pong");
      liveState("reconnecting");
      liveRetry(false);
      return;
    }
    live.awaitingPong = true;
    livePing();
  }, LIVE_PING_MS);

  // A ping: its pong confirms the subscriptions sent before it.
  function livePing() {
    if (!live.acked || !live.socket) return;
    live.pings.push(live.unpinged);
    live.unpinged = [];
    live.socket.send(JSON.stringify({ type: "ping" }));
  }

  // The pong of a ping sent after `sub`'s subscribe: the server is running the subscription.
  function liveConfirmed(sub) {
    if (!sub.active || !live.subs.has(sub.id)) return; // lost or dropped since
    if (sub.ready) {
      liveRelease(sub, true); // the view's first fetch, now
      return;
    }
    if (sub.late) {
      const why = sub.late;
      sub.late = null;
      sub.onReset(why);
    }
  }

  // Let the view of `sub` make its first fetch; before its subscription is confirmed
  // (not `confirmed`), that fetch is to be made again at the confirmation.
  function liveRelease(sub, confirmed = false) {
    if (!sub.ready) return;
    const resolve = sub.ready;
    sub.ready = null;
    clearTimeout(sub.readyTimer);
    if (!confirmed) sub.late = sub.late || "subscribed";
    resolve();
  }

  function liveRetry(full) {
    const base = full ? LIVE_FULL_MS : LIVE_BACKOFF_MS[Math.min(live.attempt, LIVE_BACKOFF_MS.length - 1)];
    live.attempt += 1;
    clearTimeout(live.timer);
    live.timer = setTimeout(liveConnect, base * (0.75 + Math.random() * 0.5));
  }

  function liveSend(id, sub) {
    if (!live.acked || !live.socket || sub.active) return;
    sub.active = true;
    sub.ended = null;
    live.socket.send(JSON.stringify({ id: String(id), type: "subscribe", payload: { query: DOCS[sub.name], operationName: sub.name, variables: sub.variables } }));
    live.unpinged.push(sub);
  }

  function liveMessage(socket, message) {
    const sub = message.id != null ? live.subs.get(Number(message.id)) : null;
    switch (message.type) {
      case "connection_ack": {
        Object.assign(live, { acked: true, everAcked: true, attempt: 0 });
        liveState("live");
        // Subscribe, then fetch once the pong confirms it: a view's first fetch, or
        // (after a reconnection) the refetch of what it may have missed.
        for (const [id, s] of live.subs) liveSend(id, s);
        livePing();
        break;
      }
      case "ping":
        socket.send(JSON.stringify({ type: "pong" }));
        break;
      case "pong":
        for (const s of live.pings.shift() || []) liveConfirmed(s);
        break;
      case "next": {
        if (!sub) break;
        const errors = message.payload && message.payload.errors;
        const code = errors && errors.length ? (errors[0].extensions && errors[0].extensions.code) || "ERROR" : null;
        if (code === "LIVE_RESET") sub.onReset("reset"); // events may have been missed; the subscription goes on
        else if (code) sub.ended = code; // the server ends it: its complete follows
        else sub.onEvent(message.payload.data);
        break;
      }
      case "error": // refused before it started
        if (!sub) break;
        sub.ended = ((message.payload || [])[0] || {}).extensions?.code || "ERROR";
        liveEnded(Number(message.id), sub);
        break;
      case "complete":
        if (sub) liveEnded(Number(message.id), sub);
        break;
      default:
        break;
    }
  }

  // A subscription the server ended: fell behind (LIVE_OVERFLOW) or out of budget
  // (RATE_LIMITED) → subscribe again, then refetch; anything else (FORBIDDEN) → stop.
  function liveEnded(id, sub) {
    sub.active = false;
    const wait = sub.ended === "LIVE_OVERFLOW" ? 1000 : sub.ended === "RATE_LIMITED" ? 15000 : null;
    if (wait == null) {
      live.subs.delete(id);
      if (sub.ended) console.info(`partnerhub: live updates of ${sub.name} ended (${sub.ended})`);
      return;
    }
    clearTimeout(sub.retry);
    sub.retry = setTimeout(() => {
      if (live.subs.get(id) !== sub) return;
      sub.late = sub.late || "reset"; // refetched once it runs again
      liveSend(id, sub);
      livePing();
    }, wait);
  }

  // Subscribe to a documents.js subscription for the view of `renderId`. The promise
  // resolves when the view may make its first fetch: the subscription is confirmed
  // running, or LIVE_READY_MS passed, or there is no connection to wait for (then the
  // view fetches again once it is confirmed).
  function liveSubscribe(name, variables, { onEvent, onReset }, renderId) {
    if (!DOCS[name]) throw new Error(`No document named ${name} in documents.js`);
    const id = ++live.lastId;
    const sub = { id, name, variables, onEvent, onReset, renderId, active: false, ended: null, retry: null, late: null, ready: null, readyTimer: null };
    const ready = new Promise((resolve) => { sub.ready = resolve; });
    live.subs.set(id, sub);
    if (!live.wanted || !live.socket) {
      liveRelease(sub);
    } else {
      sub.readyTimer = setTimeout(() => liveRelease(sub), LIVE_READY_MS);
      liveSend(id, sub);
      livePing();
    }
    return ready;
  }

  // Stop the subscriptions of views other than `renderId` (the page moved on).
  function liveDropExcept(renderId) {
    for (const [id, sub] of live.subs) {
      if (sub.renderId === renderId) continue;
      clearTimeout(sub.retry);
      liveRelease(sub);
      live.subs.delete(id);
      if (live.acked && live.socket && sub.active) live.socket.send(JSON.stringify({ id: String(id), type: "complete" }));
    }
  }

  // Run `fn` once for a burst of calls (after `wait` ms), and once more if calls came while it ran.
  function coalesce(fn, wait = 150) {
    let timer = null;
    let running = false;
    let again = false;
    const kick = () => { if (!timer) timer = setTimeout(run, wait); };
    async function run() {
      timer = null;
      if (running) { again = true; return; }
      running = true;
      try {
        await fn();
      } catch (err) {
        console.info("partnerhub: a live refetch failed", err);
      } finally {
        running = false;
        if (again) { again = false; kick(); }
      }
    }
    return kick;
  }

  // "Updated just now" / "Updated N min ago" next to a live area (role=status, polite).
  function liveHint(testid) {
    return h("span", { class: "live-hint", role: "status", "aria-live": "polite", testid });
  }
  // A page's "changed elsewhere" offer and its hint, in the page's header, in a slot as tall
  // as the offer: the offer appears without moving the page under the pointer. (Inserted
  // above the content, it pushed everything down while a click was half done — mousedown on
  // a button, mouseup on what slid under the pointer — and the click was lost.)
  function liveSlot(note, hint) {
    return h("div", { class: "live-slot" }, note, hint);
  }
  function paintHint(el) {
    const minutes = Math.floor((Date.now() - Number(el.dataset.at)) / 60000);
    el.textContent = minutes < 1 ? "Updated just now" : minutes < 60 ? `Updated ${minutes} min ago` : `Updated ${plural(Math.floor(minutes / 60), "hour")} ago`;
  }
  // Mark the area fetched now; `reason` (load, live, reset, reconnect) is for tests and curious people.
  function markUpdated(el, reason) {
    el.dataset.at = String(Date.now());
    el.dataset.reason = reason;
    el.dataset.updates = String((Number(el.dataset.updates) || 0) + 1);
    paintHint(el);
  }
  setInterval(() => { for (const el of document.querySelectorAll(".live-hint[data-at]")) paintHint(el); }, 20000);

  // Whether the user has started to change something in `root` (a form value differs from
  // what was drawn, a refusal is shown next to a form, or a confirmation is open): a live
  // refetch would throw that away.
  function editing(root) {
    if (document.querySelector("dialog[open]")) return true;
    if (root.querySelector("[data-testid=field-error], [data-testid=form-error]")) return true;
    return [...root.querySelectorAll("input, textarea, select")].some((el) => {
      if (el.type === "checkbox" || el.type === "radio") return el.checked !== el.defaultChecked;
      if (el.tagName === "SELECT") {
        if (el.multiple) return [...el.options].some((o) => o.selected !== o.defaultSelected);
        const drawn = [...el.options].findIndex((o) => o.defaultSelected);
        return el.selectedIndex !== (drawn < 0 ? 0 : drawn);
      }
      return el.value !== el.defaultValue;
    });
  }

  // ------------------------------------------------------------ sign-in

  let featuresReady = null;

  async function signIn(token) {
    state.token = token;
    featuresReady = featuresReady || detectFeatures();
    const [data] = await Promise.all([gql("Viewer"), featuresReady]);
    state.viewer = data.viewer;
    sessionStorage.setItem(TOKEN_KEY, token);
    showApp();
  }

  // The role may have changed (a FORBIDDEN, or an admin changed their own role).
  async function refreshViewer() {
    try {
      const data = await gql("Viewer");
      const changed = !state.viewer || data.viewer.role !== state.viewer.role;
      state.viewer = data.viewer;
      paintViewer();
      return changed;
    } catch {
      return false;
    }
  }

  function signOut(message) {
    liveStop();
    state.token = null;
    state.viewer = null;
    state.view = null;
    sessionStorage.removeItem(TOKEN_KEY);
    hideTip();
    $("#app").hidden = true;
    $("#login").hidden = false;
    $("#view").replaceChildren();
    const box = $("#login-error");
    box.hidden = !message;
    box.textContent = message || "";
    $("#token-input").value = "";
    $("#token-input").focus();
  }

  function paintViewer() {
    $("#viewer-name").textContent = state.viewer.displayName;
    $("#viewer-name").title = state.viewer.email;
    $("#viewer-role").textContent = roleName();
    $("[data-nav=audit]").hidden = !can("audit");
  }

  function showApp() {
    // Tab starts again at the top of the page (the skip link), not after the sign-in button.
    document.body.tabIndex = -1;
    document.body.focus({ preventScroll: true });
    document.body.removeAttribute("tabindex");
    $("#login").hidden = true;
    $("#app").hidden = false;
    paintViewer();
    liveStart();
    route();
  }

  // The token as the user may paste it: `ph_…`, `Bearer ph_…`, or the server
  // banner's whole header line `{"Authorization": "Bearer ph_…"}`.
  function tokenFrom(text) {
    let value = text.trim();
    if (value.startsWith("{")) {
      try {
        const header = JSON.parse(value);
        const key = Object.keys(header).find((k) => k.toLowerCase() === "authorization");
        value = key && typeof header[key] === "string" ? header[key].trim() : "";
      } catch (_) {
        value = ""; // not JSON after all: nothing usable
      }
    }
    return value.replace(/^Bearer\s+/i, "").trim();
  }

  $("#login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = tokenFrom($("#token-input").value);
    const box = $("#login-error");
    const button = $("#login-form button[type=submit]");
    if (!token) {
      box.hidden = false;
      box.textContent = "Paste a token first.";
      $("#token-input").focus();
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
        ? "That token was not accepted: it is unknown or has been revoked. Create one with \"partnerhub token create EMAIL\"."
        : describe(err);
      $("#token-input").focus();
    } finally {
      button.disabled = false;
    }
  });

  $("#sign-out").addEventListener("click", () => signOut());
  // The skip link moves focus to the content without touching the hash (the router's).
  $(".skip-link").addEventListener("click", (event) => { event.preventDefault(); $("#view").focus(); });

  const menuButton = $("#menu-toggle");
  menuButton.addEventListener("click", () => {
    const open = menuButton.getAttribute("aria-expanded") !== "true";
    menuButton.setAttribute("aria-expanded", String(open));
    $(".topbar").classList.toggle("nav-open", open);
  });
  const closeMenu = () => { menuButton.setAttribute("aria-expanded", "false"); $(".topbar").classList.remove("nav-open"); };

  // ------------------------------------------------------------ routing

  function parseHash() {
    const raw = location.hash.replace(/^#/, "") || "/";
    const [path, query = ""] = raw.split("?");
    const params = Object.fromEntries(new URLSearchParams(query));
    const parts = path.split("/").filter(Boolean);
    if (parts[0] === "customers" && parts[1]) return { name: "customer", params: { ...params, id: decodeURIComponent(parts[1]) } };
    if (parts[0] === "customers") return { name: "customers", params };
    if (parts[0] === "admins") return { name: "admins", params };
    if (parts[0] === "audit") return { name: "audit", params };
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

  const TITLES = { overview: "Overview", customers: "Customers", customer: "Customer", admins: "Administrators", audit: "Audit log" };

  function route() {
    if (!state.viewer) return;
    $("#banner").hidden = true;
    closeMenu();
    hideTip();
    let { name, params } = parseHash();
    if (name === "audit" && !can("audit")) name = "denied-audit";
    const navName = name === "customer" ? "customers" : name;
    for (const link of document.querySelectorAll("[data-nav]")) {
      if (link.dataset.nav === navName) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    if (state.view && state.view.name === name && state.view.update) {
      state.view.update(params);
      return;
    }
    const view = $("#view");
    view.replaceChildren();
    const renderId = ++state.renderId;
    liveDropExcept(renderId);
    const ctx = {
      renderId,
      alive: () => renderId === state.renderId,
      // Live events for this view only: stopped when the page shows another view.
      live: (name, variables, handlers) => liveSubscribe(name, variables, handlers, renderId),
    };
    document.title = `${TITLES[name] || "Partner Hub"} · Partner Hub`;
    if (name === "customer") state.view = mountCustomer(view, params, ctx);
    else if (name === "customers") state.view = mountCustomers(view, params, ctx);
    else if (name === "admins") state.view = mountAdmins(view, params, ctx);
    else if (name === "audit") state.view = mountAudit(view, params, ctx);
    else if (name === "denied-audit") {
      view.append(h("h1", null, "Audit log"), deniedNote("audit", ["auditLog"]));
      state.view = { name };
    } else state.view = mountOverview(view, params, ctx);
    window.scrollTo(0, 0);
  }

  window.addEventListener("hashchange", route);

  const customerHref = (id) => `#/customers/${encodeURIComponent(id)}`;
  // A click on these inside a clickable row is theirs, not the row's.
  const INTERACTIVE = "a, button, input, select, .has-tip";

  // ------------------------------------------------------------ CSV download (all pages, through the API)

  function csvCell(value) {
    if (value == null) return "";
    let text = Array.isArray(value) ? value.join("; ") : String(value);
    // A text cell a spreadsheet would run as a formula is kept as text.
    if (typeof value === "string" && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
    return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  }

  const csvText = (columns, rows) =>
    `\ufeff${[columns.map((c) => csvCell(c.label)), ...rows.map((r) => columns.map((c) => csvCell(c.value(r))))]
      .map((cells) => cells.join(",")).join("\r\n")}\r\n`;

  // A "Download CSV" button: fetches every page (EXPORT_PAGE rows each) with a
  // progress bar and a Cancel button, then saves the file.
  function csvDownload({ label = "Download CSV", testid, filename, columns, fetchPage }) {
    const button = h("button", { type: "button", class: "btn btn-sm", testid }, h("span", { "aria-hidden": "true" }, "⤓"), ` ${label}`);
    const bar = h("progress", { max: "1", value: "0", "aria-label": "Rows fetched" });
    const text = h("span", { class: "export-text", testid: `${testid}-progress-text` });
    const cancel = h("button", { type: "button", class: "btn btn-sm btn-ghost", testid: `${testid}-cancel` }, "Cancel");
    const progress = h("div", { class: "export-progress", hidden: true, role: "status", testid: `${testid}-progress` }, bar, text, cancel);
    let controller = null;
    cancel.addEventListener("click", () => { if (controller) controller.abort(); });
    button.addEventListener("click", async () => {
      controller = new AbortController();
      const { signal } = controller;
      button.disabled = true;
      progress.hidden = false;
      progress.dataset.state = "running";
      cancel.hidden = false;
      bar.removeAttribute("value");
      text.textContent = "Preparing the download…";
      const rows = [];
      let after = null;
      let total = null;
      try {
        for (;;) {
          let page;
          try {
            page = await fetchPage({ first: EXPORT_PAGE, after }, signal);
          } catch (err) {
            if (err instanceof ApiError && err.code === "RATE_LIMITED") {
              text.textContent = `The server asks to wait ${plural(err.retryAfter || 2, "second")}…`;
              await new Promise((resolve, reject) => {
                const timer = setTimeout(resolve, (err.retryAfter || 2) * 1000);
                signal.addEventListener("abort", () => { clearTimeout(timer); reject(new DOMException("Aborted", "AbortError")); });
              });
              continue;
            }
            throw err;
          }
          rows.push(...page.nodes);
          total = page.totalCount;
          bar.max = Math.max(total, 1);
          bar.value = rows.length;
          text.textContent = `Fetched ${fmtInt(rows.length)} of ${fmtInt(total)} rows…`;
          if (!page.pageInfo.hasNextPage || !page.nodes.length) break;
          after = page.pageInfo.endCursor;
        }
        const blob = new Blob([csvText(columns, rows)], { type: "text/csv;charset=utf-8" });
        const url = URL.createObjectURL(blob);
        const link = h("a", { href: url, download: filename });
        document.body.append(link);
        link.click();
        link.remove();
        setTimeout(() => URL.revokeObjectURL(url), 30000);
        progress.dataset.state = "done";
        text.textContent = `Downloaded ${filename}: ${plural(rows.length, "row")}.`;
      } catch (err) {
        progress.dataset.state = err.name === "AbortError" ? "cancelled" : "failed";
        text.textContent = err.name === "AbortError" ? "Download cancelled; no file was saved." : `The download stopped: ${describe(err)}`;
      } finally {
        cancel.hidden = true;
        button.disabled = false;
        controller = null;
      }
    });
    return h("div", { class: "export" }, button, progress);
  }

  const today = () => new Date().toISOString().slice(0, 10);

  // ------------------------------------------------------------ overview

  const SECTIONS = [
    {
      key: "recentlyAdded", title: "Recently added", sub: "Subscriptions and trials added in the last 90 days",
      kpis: [["newCustomers", "New customers", fmtInt], ["totalLicenses", "Total licences", fmtInt]],
      columns: [
        { key: "daysSinceAdded", label: "Days since added", fmt: fmtInt, num: true },
        { key: "totalLicenses", label: "Total licences", fmt: fmtInt, num: true },
        { key: "bar", label: "Used / assigned / available", bar: true },
        { key: "weeklyAssignmentChange", label: "Weekly change, assigned", fmt: fmtDelta, num: true },
        { key: "weeklyUsageChange", label: "Weekly change, used", fmt: fmtDelta, num: true },
      ],
    },
    {
      key: "expiring", title: "Expiring in the next 90 days", sub: "Trials, and subscriptions without auto-renewal", tile: "expiring", tileLabel: "Expiring", countKey: "expiringCustomers",
      kpis: [["expiringCustomers", "Customers", fmtInt], ["licenseAssignmentRate", "Licences assigned", fmtPct], ["licenseUsageRate", "Licences used", fmtPct]],
      columns: [
        { key: "daysToExpiry", label: "Days to expiry", fmt: fmtInt, num: true },
        { key: "totalLicenses", label: "Total licences", fmt: fmtInt, num: true },
        { key: "bar", label: "Used / assigned / available", bar: true },
        { key: "usageLast3Months", label: "Used in the last 3 months", fmt: fmtInt, num: true },
      ],
    },
    {
      key: "renewing", title: "Renewing in the next 90 days", sub: "Subscriptions that renew automatically", tile: "renewing", tileLabel: "Renewing", countKey: "renewingCustomers",
      kpis: [["renewingCustomers", "Customers", fmtInt], ["licenseAssignmentRate", "Licences assigned", fmtPct], ["licenseUsageRate", "Licences used", fmtPct]],
      columns: [
        { key: "daysToRenewal", label: "Days to renewal", fmt: fmtInt, num: true },
        { key: "totalLicenses", label: "Total licences", fmt: fmtInt, num: true },
        { key: "bar", label: "Used / assigned / available", bar: true },
        { key: "usageLast3Months", label: "Used in the last 3 months", fmt: fmtInt, num: true },
      ],
    },
    {
      key: "lowAssignment", title: "Low licence assignment", sub: "Assigned below half of the partner's median assignment rate", tile: "lowLicenseAssignment", tileLabel: "Low licence assignment", countKey: "lowAssignmentCustomers",
      kpis: [
        ["lowAssignmentCustomers", "Customers", fmtInt], ["licenseAssignmentRate", "Licences assigned", fmtPct],
        ["usageWhenAssignedRate", "Used when assigned", fmtPct], ["totalUnassignedLicenses", "Unassigned licences", fmtInt],
        ["medianAssignmentRate", "Partner median", fmtPct],
      ],
      columns: [
        { key: "monthsSinceAdded", label: "Months since added", fmt: fmtInt, num: true },
        { key: "assignmentRate", label: "Assigned (%)", cell: (r) => rateCell(r.assignmentRate, r.assigned), num: true },
        { key: "totalLicenses", label: "Total licences", fmt: fmtInt, num: true },
        { key: "bar", label: "Used / assigned / available", bar: true },
        { key: "weeklyAssignmentChange", label: "Weekly change, assigned", fmt: fmtDelta, num: true },
      ],
    },
    {
      key: "overLimit", title: "Over licence limit", sub: "More licences assigned than bought", tile: "overLicenseLimit", tileLabel: "Over licence limit", countKey: "customersWithOverage",
      kpis: [["customersWithOverage", "Customers", fmtInt], ["totalOverageLicenses", "Licences over the limit", fmtInt], ["averageOverage", "Average overage", fmtDec]],
      columns: [
        { key: "monthsRemaining", label: "Months remaining", fmt: fmtInt, num: true },
        { key: "autoRenew", label: "Auto-renews?", fmt: (v) => (v ? "Yes" : "No") },
        { key: "totalLicenses", label: "Total licences", fmt: fmtInt, num: true },
        { key: "assignmentRate", label: "Assigned (%)", cell: (r) => rateCell(r.assignmentRate, r.assigned), num: true },
        { key: "usageRate", label: "Used (%)", cell: (r) => rateCell(r.usageRate, r.used), num: true },
        { key: "bar", label: "Used / assigned / available", bar: true },
        { key: "overage", label: "Over by", fmt: fmtInt, num: true },
      ],
    },
  ];
  const SECTION_DOCS = {
    recentlyAdded: ["RecentlyAddedRows", "RecentlyAddedRowsOrdered"],
    expiring: ["ExpiringRows", "ExpiringRowsOrdered"],
    renewing: ["RenewingRows", "RenewingRowsOrdered"],
    lowAssignment: ["LowAssignmentRows", "LowAssignmentRowsOrdered"],
    overLimit: ["OverLimitRows", "OverLimitRowsOrdered"],
  };
  // The CSV of a section: every column the API gives, raw.
  const SECTION_CSV_BASE = [
    { label: "Customer ID", value: (r) => r.customer.id },
    { label: "Customer", value: (r) => r.customer.name },
    { label: "Plan type", value: (r) => r.planType },
    { label: "Subscription ID", value: (r) => r.subscriptionId },
    { label: "Total licences", value: (r) => r.totalLicenses },
    { label: "Assigned", value: (r) => r.assigned },
    { label: "Used", value: (r) => r.used },
    { label: "Available", value: (r) => r.available },
  ];
  const SECTION_CSV_EXTRA = {
    recentlyAdded: [["Days since added", "daysSinceAdded"], ["Weekly assignment change", "weeklyAssignmentChange"], ["Weekly usage change", "weeklyUsageChange"]],
    expiring: [["Days to expiry", "daysToExpiry"], ["Used in the last 3 months", "usageLast3Months"]],
    renewing: [["Days to renewal", "daysToRenewal"], ["Used in the last 3 months", "usageLast3Months"]],
    lowAssignment: [["Months since added", "monthsSinceAdded"], ["Assignment rate", "assignmentRate"], ["Weekly assignment change", "weeklyAssignmentChange"]],
    overLimit: [["Months remaining", "monthsRemaining"], ["Auto-renews", "autoRenew"], ["Assignment rate", "assignmentRate"], ["Usage rate", "usageRate"], ["Overage", "overage"]],
  };
  const sectionCsvColumns = (key) => [...SECTION_CSV_BASE, ...SECTION_CSV_EXTRA[key].map(([label, k]) => ({ label, value: (r) => r[k] }))];

  // An analytics column → the value of <Section>RowOrderField that sorts by it (when the API has one).
  const snake = (key) => key.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();
  function orderValue(sectionKey, columnKey) {
    const values = state.features.rowOrder[sectionKey];
    if (!values) return null;
    const candidates = columnKey === "customer" ? ["CUSTOMER_NAME", "CUSTOMER", "NAME"] : columnKey === "bar" ? ["ASSIGNED"] : [snake(columnKey)];
    return candidates.find((c) => values.has(c)) || null;
  }

  const TILES = [
    { key: "totalCustomers", label: "Total customers", note: "with a live Meetings or Calling plan", split: ["meetingsCustomers", "callingCustomers"] },
    { key: "expiring", label: "Expiring", note: "in the next 90 days", section: "expiring", color: "#a15c07" },
    { key: "renewing", label: "Renewing", note: "in the next 90 days", section: "renewing", color: "#0f7b60" },
    { key: "lowLicenseAssignment", label: "Low licence assignment", note: "compared with your other customers", section: "lowAssignment", color: "#5b4bc4" },
    { key: "overLicenseLimit", label: "Over licence limit", note: "assigned more than bought", section: "overLimit", color: "#c0362c" },
  ];

  function mountOverview(root, _params, ctx) {
    const split = {}; // tile key → { MEETINGS, CALLING, total }
    const tiles = h("div", { class: "tiles", testid: "kpi-tiles" },
      TILES.map((t) => {
        const tile = h(t.section ? "button" : "div", {
          type: t.section ? "button" : null, class: "tile", style: t.color ? `--tile:${t.color}` : null, testid: `tile-${t.key}`,
          "aria-describedby": `tile-note-${t.key}`,
        },
        h("span", { class: "tile-label" }, t.label),
        h("span", { class: "tile-value", testid: `kpi-${t.key}` }, "…"),
        h("span", { class: "tile-split", testid: `kpi-split-${t.key}` }),
        h("span", { class: "tile-note", id: `tile-note-${t.key}` }, t.note));
        if (t.section) {
          tile.addEventListener("click", () => {
            const el = $(`#section-${t.section}`);
            if (el) { el.scrollIntoView({ behavior: "smooth", block: "start" }); el.focus({ preventScroll: true }); }
          });
        }
        return tile;
      }));
    const asOf = h("div", { class: "sub" }, "Loading…");
    const analytics = h("div", { testid: "analytics" }, h("div", { class: "loading" }, "Loading analytics…"));
    const toggle = h("div", { class: "segmented", role: "group", "aria-label": "Product for the analytics", testid: "product-toggle" },
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

    const hint = liveHint("live-hint-kpis");
    root.append(
      h("div", { class: "page-head" }, h("div", null, h("h1", null, "Overview"), asOf), hint),
      h("h2", { class: "sr-only" }, "Summary"),
      tiles,
      h("p", { class: "tiles-note", testid: "tiles-note" },
        "Tiles count customers with Meetings or Calling, each customer once; the small numbers are per product, as in the sections below. "
        + "A customer with both products can appear in both, so the per-product numbers may add up to more than the tile."),
      h("div", { class: "analytics-head" },
        h("div", null, h("h2", null, "Analytics"), h("div", { class: "muted" }, "Licence trend and the customers that need attention, for one product at a time")),
        toggle),
      analytics);

    let tileData = null;
    const loadKpis = (reason) => gql("Kpis").then((data) => {
      if (!ctx.alive()) return;
      tileData = data;
      for (const t of TILES) {
        $(`[data-testid=kpi-${t.key}]`, tiles).textContent = fmtInt(data.kpis[t.key]);
        const meetings = t.split ? data[t.split[0]].totalCount : data.meetings[t.section][SECTIONS.find((x) => x.key === t.section).countKey];
        const calling = t.split ? data[t.split[1]].totalCount : data.calling[t.section][SECTIONS.find((x) => x.key === t.section).countKey];
        split[t.key] = { MEETINGS: meetings, CALLING: calling, total: data.kpis[t.key] };
        const el = $(`[data-testid=kpi-split-${t.key}]`, tiles);
        el.replaceChildren(
          h("span", null, "Meetings ", h("b", { testid: `kpi-${t.key}-MEETINGS` }, fmtInt(meetings))), " · ",
          h("span", null, "Calling ", h("b", { testid: `kpi-${t.key}-CALLING` }, fmtInt(calling))));
      }
      asOf.textContent = `As of ${fmtDate(data.kpis.asOf)} · the customers you can see`;
      paintSectionNotes();
      markUpdated(hint, reason);
    });
    // Live: the tiles are fetched again after a change of a customer this viewer sees
    // (a failed refetch keeps the tiles shown; the hint then says how old they are).
    // The first fetch waits for the subscription (see liveSubscribe).
    const refetchKpis = coalesce(() => loadKpis("live"));
    ctx.live("LiveKpis", {}, { onEvent: refetchKpis, onReset: (why) => loadKpis(why).catch(() => {}) }).then(() => {
      if (!ctx.alive()) return;
      loadKpis("load").catch((err) => {
        if (!ctx.alive()) return;
        tiles.replaceWith(errorBox(err, "kpi-error"));
        asOf.textContent = "";
      });
    });

    // Each tile-linked section says how its number relates to the tile.
    function paintSectionNotes() {
      if (!tileData) return;
      for (const sec of SECTIONS) {
        const note = $(`[data-testid=section-note-${sec.key}]`, analytics);
        if (!note || !sec.tile) continue;
        const both = split[sec.tile];
        const product = analytics.dataset.product;
        const other = product === "MEETINGS" ? "CALLING" : "MEETINGS";
        note.replaceChildren(
          `This section shows ${PRODUCT[product]} only: `, h("b", null, plural(both[product], "customer")), ". ",
          `The ${sec.tileLabel} tile above counts `, h("b", { testid: `section-note-${sec.key}-tile` }, fmtInt(both.total)),
          ` across Meetings and Calling (${PRODUCT[other]} alone: ${fmtInt(both[other])}); a customer in both products counts once there.`);
      }
    }

    let loadSeq = 0;
    function loadAnalytics() {
      const seq = ++loadSeq;
      const product = state.product;
      analytics.setAttribute("aria-busy", "true");
      analytics.classList.add("stale");
      gql("Analytics", { product, first: SECTION_PAGE }).then((data) => {
        if (!ctx.alive() || seq !== loadSeq) return;
        analytics.dataset.product = data.analytics.product;
        analytics.replaceChildren(renderAnalytics(data.analytics));
        paintSectionNotes();
      }).catch((err) => {
        if (!ctx.alive() || seq !== loadSeq) return;
        analytics.replaceChildren(errorBox(err, "analytics-error"));
      }).finally(() => {
        if (seq !== loadSeq) return;
        analytics.removeAttribute("aria-busy");
        analytics.classList.remove("stale");
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
    const trend = h("section", { class: "card", testid: "trend", "aria-labelledby": "trend-title" },
      h("div", { class: "card-head" },
        h("div", null, h("h2", { id: "trend-title" }, `${product} licence distribution`),
          h("div", { class: "sub" }, `Weekly, the 12 weeks to ${fmtDate(a.asOf)}; live plans only. Point at the chart, or focus it and use the arrow keys, for a week's numbers.`)),
        legend),
      h("div", { class: "card-body" }, trendChart(a.licenseTrend, product)));
    return h("div", null, trend, SECTIONS.map((sec) => renderSection(sec, a[sec.key], a.product)));
  }

  function renderSection(section, data, product) {
    const tbody = h("tbody");
    const shown = h("span", { class: "muted", testid: `shown-${section.key}` });
    const more = h("button", { type: "button", class: "btn btn-sm", testid: `more-${section.key}` }, "Show more");
    const msg = h("div");
    const [plainDoc, orderedDoc] = SECTION_DOCS[section.key];
    let page = data.rows;
    let order = null; // { field, direction } when the API sorts this section
    let count = 0;

    const fetchRows = (vars, signal) => (order
      ? gql(orderedDoc, { product, ...vars, orderBy: order }, { signal })
      : gql(plainDoc, { product, ...vars }, { signal })).then((d) => d.analytics[section.key].rows);

    function addRows(rows) {
      for (const row of rows.nodes) {
        const href = customerHref(row.customer.id);
        tbody.append(h("tr", {
          class: "clickable", testid: "section-row", "data-customer-id": row.customer.id,
          onclick: (event) => { if (!event.target.closest(INTERACTIVE)) navigate(href); },
        },
        h("td", { class: "name" }, h("a", { href }, row.customer.name)),
        h("td", null, h("code", null, row.subscriptionId), " ", badge(PLAN_TYPE[row.planType], row.planType === "TRIAL" ? "accent" : "")),
        section.columns.map((col) => h("td", { class: col.num ? "num" : col.bar ? "bar-cell" : null },
          col.bar ? licenceBar({ total: row.totalLicenses, assigned: row.assigned, used: row.used })
            : col.cell ? col.cell(row) : col.fmt(row[col.key])))));
        count += 1;
      }
      page = rows;
      shown.textContent = `Showing ${fmtInt(count)} of ${plural(rows.totalCount, "row")}`;
      more.hidden = !rows.pageInfo.hasNextPage;
    }

    more.addEventListener("click", async () => {
      more.disabled = true;
      msg.replaceChildren();
      try {
        addRows(await fetchRows({ first: 25, after: page.pageInfo.endCursor }));
      } catch (err) {
        msg.replaceChildren(errorBox(err));
      } finally {
        more.disabled = false;
      }
    });

    // Sortable headers, only for the columns the API can order by.
    const headCells = [{ key: "customer", label: "Customer" }, { key: "subscriptionId", label: "Subscription ID" }, ...section.columns];
    const head = h("tr", null, headCells.map((col) => {
      const value = orderValue(section.key, col.key);
      const th = h("th", { scope: "col", class: col.num ? "num" : null }, col.label);
      if (!value) return th;
      const button = h("button", { type: "button", class: "sort", testid: `sort-${section.key}-${col.key}` }, col.label, h("span", { class: "sort-mark", "aria-hidden": "true" }));
      th.replaceChildren(button);
      button.addEventListener("click", async () => {
        order = order && order.field === value && order.direction === "ASC" ? { field: value, direction: "DESC" } : { field: value, direction: "ASC" };
        for (const other of head.querySelectorAll("th")) other.removeAttribute("aria-sort");
        th.setAttribute("aria-sort", order.direction === "ASC" ? "ascending" : "descending");
        msg.replaceChildren();
        try {
          const rows = await fetchRows({ first: SECTION_PAGE });
          tbody.replaceChildren();
          count = 0;
          addRows(rows);
        } catch (err) {
          msg.replaceChildren(errorBox(err));
        }
      });
      return th;
    }));

    const empty = data.rows.totalCount === 0;
    const titleId = `section-title-${section.key}`;
    const card = h("section", { class: "card", id: `section-${section.key}`, testid: `section-${section.key}`, tabindex: "-1", "aria-labelledby": titleId },
      h("div", { class: "card-head" },
        h("div", null, h("h2", { id: titleId }, section.title), h("div", { class: "sub" }, section.sub)),
        h("div", { class: "kpi-chips" }, section.kpis.map(([key, label, fmt]) =>
          h("div", { class: "chip" }, h("small", null, label), h("b", { testid: `${section.key}-${key}` }, fmt(data[key])))))),
      section.tile ? h("p", { class: "section-note", testid: `section-note-${section.key}` }) : null,
      empty
        ? h("div", { class: "empty" }, `No ${PRODUCT[product]} customers in this section.`)
        : h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": `${section.title} rows` },
          h("table", null, h("thead", null, head), tbody)),
      empty ? null : h("div", { class: "card-foot" },
        h("div", { class: "foot-left" }, shown, barLegend()),
        h("div", { class: "foot-right" },
          csvDownload({
            testid: `csv-${section.key}`,
            filename: `${section.key}-${product.toLowerCase()}-${today()}.csv`,
            columns: sectionCsvColumns(section.key),
            fetchPage: (vars, signal) => fetchRows(vars, signal),
          }),
          more)),
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

  function trendChart(points, product) {
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
    const dots = s("g", { "aria-hidden": "true" }, points.flatMap((p, i) => ["total", "assigned", "used"].map((key) =>
      s("circle", { cx: x(i), cy: y(p[key]), r: 2.8, class: `series-${key} dot`, "data-index": i, fill: "#fff", "stroke-width": 2 }))));
    const hoverLine = s("line", { class: "hover-line", y1: m.t, y2: m.t + ih, visibility: "hidden" });
    // One invisible band per week: pointing anywhere in it explains that week.
    const band = points.length === 1 ? iw : iw / (points.length - 1);
    const hits = s("g", { class: "hits" }, points.map((p, i) =>
      s("rect", { class: "hit", "data-index": i, "data-date": p.date, x: Math.max(m.l - band / 2, x(i) - band / 2), y: m.t, width: band, height: ih, fill: "transparent" })));

    const lastPoint = points[points.length - 1];
    const svg = s("svg", {
      viewBox: `0 0 ${W} ${H}`, role: "img", tabindex: "0", "data-testid": "trend-chart", "data-points": points.length,
      "aria-label": `${product} licence trend, ${points.length} weeks. Latest week to ${fmtDate(lastPoint.date)}: total ${fmtInt(lastPoint.total)}, assigned ${fmtInt(lastPoint.assigned)}, used ${fmtInt(lastPoint.used)}. Use the left and right arrow keys for other weeks.`,
    }, grid, yAxis, xAxis, s("path", { d: area, class: "area-total" }), series, hoverLine, dots, hits);

    let active = null;
    function explain(i) {
      active = i;
      const p = points[i];
      hoverLine.setAttribute("x1", x(i));
      hoverLine.setAttribute("x2", x(i));
      hoverLine.setAttribute("visibility", "visible");
      for (const dot of dots.children) dot.classList.toggle("on", Number(dot.dataset.index) === i);
      const box = svg.getBoundingClientRect();
      const px = box.left + (x(i) / W) * box.width;
      showTip(svg, [
        h("div", { class: "tt-date", testid: "tt-week" }, `Week to ${fmtDate(p.date)}`),
        tipRows([["Total", fmtInt(p.total), "tt-total"], ["Assigned", fmtInt(p.assigned), "tt-assigned"], ["Used", fmtInt(p.used), "tt-used"]]),
      ], { left: px, width: 0, top: box.top + (y(p.total) / H) * box.height, bottom: box.top + (y(p.total) / H) * box.height });
      tooltip.dataset.index = String(i);
    }
    function quiet() {
      active = null;
      hoverLine.setAttribute("visibility", "hidden");
      for (const dot of dots.children) dot.classList.remove("on");
      hideTip(svg);
    }
    hits.addEventListener("pointermove", (event) => {
      const i = Number(event.target.dataset.index);
      if (Number.isInteger(i) && i !== active) explain(i);
    });
    svg.addEventListener("pointerleave", quiet);
    svg.addEventListener("focus", () => explain(points.length - 1));
    svg.addEventListener("blur", quiet);
    svg.addEventListener("keydown", (event) => {
      const moves = { ArrowLeft: -1, ArrowRight: 1, Home: -Infinity, End: Infinity };
      if (!(event.key in moves)) return;
      event.preventDefault();
      const from = active == null ? points.length - 1 : active;
      explain(Math.max(0, Math.min(points.length - 1, from + moves[event.key])));
    });
    return h("div", { class: "chart" }, svg);
  }

  // ------------------------------------------------------------ customer list

  const SORTS = {
    name: { field: "NAME", direction: "ASC" }, "-name": { field: "NAME", direction: "DESC" },
    created: { field: "CREATED_ON", direction: "ASC" }, "-created": { field: "CREATED_ON", direction: "DESC" },
  };
  const LIST_KEYS = ["q", "managedBy", "product", "status", "type", "assignedTo", "role", "sort", "size"];
  const list = (text) => (text ? text.split(",").filter(Boolean) : []);

  function listHash(params, base = "#/customers") {
    const qs = new URLSearchParams();
    for (const key of [...LIST_KEYS, "after", "before", "offset"]) if (params[key]) qs.set(key, params[key]);
    const text = qs.toString();
    return `${base}${text ? `?${text}` : ""}`;
  }

  function customerFilter(params) {
    const filter = {};
    if (params.q) filter.search = params.q;
    if (params.managedBy) filter.managedBy = params.managedBy;
    if (list(params.product).length) filter.products = list(params.product);
    if (list(params.status).length) filter.statuses = list(params.status);
    if (params.type) filter.subscriptionType = params.type;
    if (params.assignedTo) filter.assignedTo = params.assignedTo;
    return filter;
  }

  const CUSTOMER_CSV = [
    { label: "Customer ID", value: (c) => c.id },
    { label: "Name", value: (c) => c.name },
    { label: "Statuses", value: (c) => c.statuses },
    { label: "Products", value: (c) => c.products },
    { label: "Managed by", value: (c) => c.managedBy },
    { label: "Added on", value: (c) => c.createdOn },
    { label: "Last admin activity", value: (c) => c.lastAdminActivityOn },
    { label: "Launch URL", value: (c) => c.launchUrl },
  ];

  function mountCustomers(root, initial, ctx) {
    let params = { ...initial };
    const listDoc = state.features.statusDetails ? "CustomersWithStatusDetails" : "Customers";
    const search = h("input", { type: "search", id: "filter-q", placeholder: "Name, subscription or trial ID…", testid: "filter-q", autocomplete: "off" });
    const managedBy = h("select", { id: "filter-managedBy", testid: "filter-managedBy" },
      h("option", { value: "" }, "Any"), Object.entries(MANAGED_BY).map(([v, t]) => h("option", { value: v }, t)));
    const type = h("select", { id: "filter-type", testid: "filter-type" },
      h("option", { value: "" }, "Any"), Object.entries(PLAN_TYPE).map(([v, t]) => h("option", { value: v }, t)));
    const assignedTo = h("select", { id: "filter-assignedTo", testid: "filter-assignedTo" }, h("option", { value: "" }, "Anyone"));
    const size = h("select", { id: "page-size", testid: "page-size" }, PAGE_SIZES.map((n) => h("option", { value: String(n) }, `${n} per page`)));
    const reset = h("button", { type: "button", class: "btn btn-ghost", testid: "filter-reset" }, "Reset filters");
    const count = h("span", { testid: "result-count", "aria-live": "polite" }, "");
    const hint = liveHint("live-hint-customers");
    const body = h("div", { testid: "customers" }, h("div", { class: "loading" }, "Loading customers…"));
    const range = h("span", { class: "muted", testid: "page-range" });
    const prev = h("button", { type: "button", class: "btn btn-sm", testid: "prev-page", disabled: true }, "← Previous");
    const next = h("button", { type: "button", class: "btn btn-sm", testid: "next-page", disabled: true }, "Next →");
    const newTrialPanel = h("div", { class: "new-trial", hidden: true, testid: "new-trial", id: "new-trial-panel" });
    const newTrialButton = can("trials")
      ? h("button", { type: "button", class: "btn btn-primary", testid: "new-trial-toggle", "data-action": "startTrial", "aria-expanded": "false", "aria-controls": "new-trial-panel" }, "Start a trial")
      : null;

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
    managedBy.addEventListener("change", () => update({ managedBy: managedBy.value }));
    type.addEventListener("change", () => update({ type: type.value }));
    assignedTo.addEventListener("change", () => update({ assignedTo: assignedTo.value }));
    size.addEventListener("change", () => update({ size: size.value === "25" ? "" : size.value }));
    reset.addEventListener("click", () => navigate("#/customers"));
    if (newTrialButton) {
      newTrialButton.addEventListener("click", () => {
        newTrialPanel.hidden = !newTrialPanel.hidden;
        newTrialButton.setAttribute("aria-expanded", String(!newTrialPanel.hidden));
        if (!newTrialPanel.hidden && !newTrialPanel.childElementCount) {
          newTrialPanel.append(h("h2", { class: "h3" }, "Start a trial for a new customer"),
            startTrialForm({ newCustomer: true, onStarted: (payload) => navigate(`${customerHref(payload.customer.id)}?started=${encodeURIComponent(payload.trial.trialId)}`) }));
        }
        if (!newTrialPanel.hidden) $("input", newTrialPanel).focus();
      });
    }

    // The multi-selects are repainted from the URL; the other controls stay (and keep focus while typing).
    const productSlot = h("div", { class: "slot" });
    const statusSlot = h("div", { class: "slot" });
    function paintFilters() {
      productSlot.replaceChildren(multiSelect({ label: "Product", options: PRODUCT, selected: list(params.product), testid: "filter-product", onChange: (v) => update({ product: v.join(",") }) }));
      statusSlot.replaceChildren(multiSelect({
        label: "Status", options: Object.fromEntries(Object.entries(STATUS).map(([k, v]) => [k, v[0]])), selected: list(params.status),
        testid: "filter-status", onChange: (v) => update({ status: v.join(",") }),
      }));
    }
    const fieldsBox = h("div", { class: "filters", role: "search", "aria-label": "Filter customers" },
      h("div", { class: "field field-wide" }, h("label", { for: "filter-q" }, "Search"), search),
      h("div", { class: "field" }, h("label", { for: "filter-managedBy" }, "Managed by"), managedBy),
      h("div", { class: "field" }, h("span", { class: "label" }, "Product"), productSlot),
      h("div", { class: "field" }, h("span", { class: "label" }, "Status"), statusSlot),
      h("div", { class: "field" }, h("label", { for: "filter-type" }, "Subscription type"), type),
      h("div", { class: "field" }, h("label", { for: "filter-assignedTo" }, "Assigned to"), assignedTo),
      h("div", { class: "field field-reset" }, reset));

    root.append(
      h("div", { class: "page-head" },
        h("div", null, h("h1", null, "Customers"), h("div", { class: "sub" }, count, " ", hint)),
        h("div", { class: "head-actions" }, newTrialButton || deniedNote("trials", ["startTrial"]))),
      h("section", { class: "card", "aria-label": "Customer list" },
        newTrialPanel,
        fieldsBox,
        h("div", { class: "list-tools" },
          h("label", { class: "inline-field", for: "page-size" }, h("span", null, "Page size"), size),
          csvDownload({
            label: "Download CSV (all pages)", testid: "csv-customers", filename: `customers-${today()}.csv`, columns: CUSTOMER_CSV,
            fetchPage: (vars, signal) => gql("Customers", { ...vars, filter: customerFilter(params), orderBy: SORTS[params.sort] || SORTS.name }, { signal }).then((d) => d.customers),
          })),
        body,
        h("div", { class: "card-foot" }, range, h("nav", { class: "pager", "aria-label": "Pages" }, prev, next))));

    // The "assigned to" choices: the partner's sales admins.
    gql("AssignableAdmins").then((data) => {
      if (!ctx.alive()) return;
      for (const a of data.partnerAdmins.nodes) assignedTo.append(h("option", { value: a.id }, `${a.displayName} (${ROLE[a.role]})`));
      assignedTo.value = params.assignedTo || "";
    }).catch(() => {});

    let current = null;
    let seq = 0;
    async function load(reason = "load") {
      const mine = ++seq;
      if (document.activeElement !== search) search.value = params.q || "";
      managedBy.value = params.managedBy || "";
      type.value = params.type || "";
      assignedTo.value = params.assignedTo || "";
      size.value = String(PAGE_SIZES.includes(Number(params.size)) ? Number(params.size) : 25);
      const focused = document.activeElement && document.activeElement.closest && document.activeElement.closest("details.multi");
      if (!focused) paintFilters();
      const pageSize = Number(size.value);
      const vars = { filter: customerFilter(params), orderBy: SORTS[params.sort] || SORTS.name };
      if (params.before) { vars.last = pageSize; vars.before = params.before; } else { vars.first = pageSize; if (params.after) vars.after = params.after; }
      body.setAttribute("aria-busy", "true");
      body.classList.add("stale");
      try {
        const data = await gql(listDoc, vars);
        if (!ctx.alive() || mine !== seq) return;
        current = data.customers;
        renderList(current, pageSize);
        markUpdated(hint, reason);
      } catch (err) {
        if (!ctx.alive() || mine !== seq) return;
        if (reason !== "load" && current) return; // a failed live refetch keeps the rows shown (the hint ages)
        body.replaceChildren(errorBox(err, "customers-error"));
      } finally {
        if (mine === seq) { body.removeAttribute("aria-busy"); body.classList.remove("stale"); }
      }
    }

    function sortHeader(label, field) {
      const sort = params.sort || "name";
      const active = sort.replace(/^-/, "") === field;
      const desc = active && sort.startsWith("-");
      const th = h("th", { scope: "col", "aria-sort": active ? (desc ? "descending" : "ascending") : null },
        h("button", {
          type: "button", class: "sort", testid: `sort-${field}`,
          onclick: () => update({ sort: active && !desc ? `-${field}` : field === "name" ? "" : field }),
        }, label, h("span", { class: "sort-mark", "aria-hidden": "true" }, active ? (desc ? " ↓" : " ↑") : " ↕")));
      return th;
    }

    function renderList(conn, pageSize) {
      const offset = Number(params.offset) || 0;
      const filtered = ["q", "managedBy", "product", "status", "type", "assignedTo"].some((k) => params[k]);
      count.textContent = `${plural(conn.totalCount, "customer")}${filtered ? " match the filters" : ""}`;
      count.dataset.total = conn.totalCount;
      range.textContent = conn.nodes.length ? `${fmtInt(offset + 1)}–${fmtInt(offset + conn.nodes.length)} of ${fmtInt(conn.totalCount)}` : "";
      prev.disabled = !conn.pageInfo.hasPreviousPage;
      next.disabled = !conn.pageInfo.hasNextPage;
      prev.onclick = () => {
        const o = Math.max(0, offset - pageSize);
        const p = { ...params, before: conn.pageInfo.startCursor, offset: String(o) };
        delete p.after;
        navigate(listHash(o === 0 ? { ...p, before: null, offset: null } : p));
      };
      next.onclick = () => {
        const p = { ...params, after: conn.pageInfo.endCursor, offset: String(offset + pageSize) };
        delete p.before;
        navigate(listHash(p));
      };
      if (!conn.nodes.length) {
        body.replaceChildren(h("div", { class: "empty", testid: "customers-empty" }, "No customers match these filters."));
        return;
      }
      body.replaceChildren(h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Customers" }, h("table", { testid: "customers-table" },
        h("thead", null, h("tr", null, sortHeader("Customer", "name"), h("th", { scope: "col" }, "Status"), h("th", { scope: "col" }, "Products"),
          h("th", { scope: "col" }, "Managed by"), sortHeader("Added", "created"), h("th", { scope: "col" }, "Last admin activity"),
          h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Launch")))),
        h("tbody", null, conn.nodes.map(customerRow)))));
    }

    function customerRow(c) {
      return h("tr", {
        class: "clickable", testid: "customer-row", "data-id": c.id,
        onclick: (event) => { if (!event.target.closest(INTERACTIVE)) navigate(customerHref(c.id)); },
      },
      h("td", { class: "name" }, h("a", { href: customerHref(c.id) }, c.name)),
      h("td", null, statusBadges(c)),
      h("td", null, c.products.length ? c.products.map((p) => PRODUCT[p]).join(", ") : h("span", { class: "muted" }, "—")),
      h("td", null, MANAGED_BY[c.managedBy]),
      h("td", { class: "nowrap", testid: "created-on", "data-date": c.createdOn }, fmtDate(c.createdOn)),
      h("td", { class: "nowrap" }, fmtDate(c.lastAdminActivityOn)),
      h("td", { class: "nowrap" }, h("a", { href: c.launchUrl, target: "_blank", rel: "noopener", "aria-label": `Launch ${c.name}'s admin portal (opens a new tab)` }, "Launch ↗")));
    }

    // Live: a changed customer shown on this page of the unfiltered list is fetched
    // and redrawn in place (the list's order, by name or date added, does not depend on
    // what changes). Any other change may move rows, change the count, or be a new
    // customer: the page is fetched again at the same place.
    const changed = new Set();
    const refetchChanged = coalesce(async () => {
      const ids = [...changed];
      changed.clear();
      const filtered = ["q", "managedBy", "product", "status", "type", "assignedTo"].some((k) => params[k]);
      const shown = current ? current.nodes : [];
      if (filtered || !ids.length || !ids.every((id) => shown.some((c) => c.id === id))) {
        await load("live");
        return;
      }
      const rowDoc = state.features.statusDetails ? "CustomerWithStatusDetails" : "Customer";
      const found = await Promise.all(ids.map((id) => gql(rowDoc, { id })));
      if (!ctx.alive() || current === null || found.some((d) => !d.customer)) {
        if (ctx.alive()) await load("live");
        return;
      }
      for (const { customer } of found) {
        const at = current.nodes.findIndex((c) => c.id === customer.id);
        const row = [...body.querySelectorAll("tr[data-id]")].find((tr) => tr.dataset.id === customer.id);
        if (at < 0 || !row) continue;
        current.nodes[at] = customer;
        row.replaceWith(customerRow(customer));
      }
      markUpdated(hint, "live");
    });
    // The first fetch waits for the subscription (see liveSubscribe), unless the user
    // changed the filters meanwhile (that fetched already).
    ctx.live("LiveCustomers", {}, {
      onEvent: (data) => { if (data && data.customerChanged) { changed.add(data.customerChanged.id); refetchChanged(); } },
      onReset: (why) => { load(why); },
    }).then(() => { if (ctx.alive() && seq === 0) load(); });

    search.value = params.q || "";
    paintFilters();
    return {
      name: "customers",
      update(newParams) { params = { ...newParams }; current = null; load(); },
    };
  }

  // ------------------------------------------------------------ customer detail

  function mountCustomer(root, params, ctx) {
    const doc = state.features.statusDetails ? "CustomerWithStatusDetails" : "Customer";
    const hint = liveHint("live-hint-customer");
    const showChanges = h("button", { type: "button", class: "btn btn-sm btn-primary", testid: "show-changes" }, "Show the changes");
    const changedNote = h("div", { class: "live-changed", testid: "live-changed", hidden: true },
      h("span", null, "Changed elsewhere; your unsaved entries are kept."), showChanges);
    root.append(h("div", { class: "detail-bar" }, h("a", { class: "back", href: "#/customers", testid: "back" }, "← Customers"), liveSlot(changedNote, hint)));
    const holder = h("div", null, h("div", { class: "loading" }, "Loading customer…"));
    root.append(holder);
    let flash = params.started ? { where: "trials", node: okFlash(`Trial ${params.started} started for the new customer.`, "trial-started") } : null;
    let shownFlash = null; // the last confirmation shown: a live refetch keeps it on the page
    let assignable = null;

    // Live: the customer is fetched again after each change of it, unless the user has
    // started entering something here; then a button offers the changes instead.
    function changedElsewhere(reason) {
      if (editing(holder)) {
        changedNote.hidden = false;
        changedNote.dataset.reason = reason;
        return;
      }
      load(reason);
    }
    // Asked for: drawn even over what the user has entered.
    showChanges.addEventListener("click", () => load(changedNote.dataset.reason || "live", { asked: true }));
    const refetchLive = coalesce(() => changedElsewhere("live"));
    // The first fetch (at the end, below) waits for the subscription (see liveSubscribe).
    const subscribed = ctx.live("LiveCustomer", { id: params.id }, { onEvent: refetchLive, onReset: changedElsewhere });

    let loads = 0;
    let drawn = null; // the customer as last drawn (JSON): a live refetch that finds it unchanged draws nothing
    async function load(reason = "load", { asked = false } = {}) {
      const mine = ++loads;
      try {
        const [data, admins] = await Promise.all([
          gql(doc, { id: params.id }),
          assignable || (can("assign") ? gql("AssignableAdmins").catch((err) => ({ error: err })) : Promise.resolve(null)),
        ]);
        assignable = admins;
        if (!ctx.alive() || mine !== loads) return; // a later fetch draws the page
        if (!data.customer) {
          holder.replaceChildren(h("div", { class: "alert alert-error", testid: "not-found" },
            "This customer does not exist, or is not visible to you (sales admins see the customers assigned to them)."));
          return;
        }
        const fresh = Boolean(flash); // a confirmation of this page's own change, not yet shown
        const json = JSON.stringify(data.customer);
        if (!fresh && reason !== "load" && json === drawn) {
          // Nothing new (typically this page's own change, announced after it was drawn).
          if (asked) changedNote.hidden = true;
          markUpdated(hint, reason);
          return;
        }
        if (!fresh && !asked && reason !== "load" && editing(holder)) {
          // The user started typing while this live refetch ran: keep the entry, offer the changes.
          changedNote.hidden = false;
          changedNote.dataset.reason = reason;
          return;
        }
        if (!fresh && reason !== "load") flash = shownFlash;
        const hadFocus = holder.contains(document.activeElement);
        drawn = json;
        holder.replaceChildren(renderCustomer(data.customer));
        changedNote.hidden = true;
        markUpdated(hint, reason);
        document.title = `${data.customer.name} · Partner Hub`;
        const shown = flash && $("[role=status][tabindex='-1']", holder);
        if (shown && fresh) shown.focus();
        else if (hadFocus && reason !== "load") $("#view").focus({ preventScroll: true }); // not lost to <body>
        shownFlash = flash;
        flash = null;
      } catch (err) {
        if (!ctx.alive() || mine !== loads) return;
        if (reason !== "load") return; // a failed live refetch keeps the customer shown (the hint ages)
        holder.replaceChildren(errorBox(err, "customer-error"));
      }
    }

    const reloadWith = (where, node) => { flash = { where, node }; return load(); };

    function renderCustomer(c) {
      const flashFor = (where) => (flash && flash.where === where ? flash.node : null);
      const head = h("div", { class: "detail-head" },
        h("div", { class: "detail-title" },
          h("h1", { testid: "customer-name" }, c.name),
          h("div", { testid: "customer-statuses" }, statusBadges(c)),
          h("div", { class: "meta" },
            h("span", null, "Managed by ", h("b", null, MANAGED_BY[c.managedBy])),
            h("span", null, "Added ", h("b", null, fmtDate(c.createdOn))),
            h("span", null, "Last admin activity ", h("b", null, fmtDate(c.lastAdminActivityOn))),
            h("span", null, "Products ", h("b", null, c.products.length ? c.products.map((p) => PRODUCT[p]).join(", ") : "none live")))),
        h("a", { class: "btn", href: c.launchUrl, target: "_blank", rel: "noopener", testid: "launch" }, "Launch admin portal ↗"));

      const pending = c.subscriptions.filter((sub) => sub.status === "PENDING_SETUP");
      const setup = pending.length ? setupCard(c, pending, flashFor("setup")) : flashFor("setup")
        ? h("section", { class: "card", testid: "setup" }, h("div", { class: "card-body" }, flashFor("setup"))) : null;

      const subs = h("section", { class: "card", testid: "subscriptions", "aria-labelledby": "subs-title" },
        h("div", { class: "card-head" }, h("h2", { id: "subs-title" }, "Subscriptions"), h("span", { class: "sub" }, `${c.subscriptions.length} in all`)),
        c.subscriptions.length ? c.subscriptions.map(renderSubscription) : h("div", { class: "empty" }, "No subscriptions yet."));

      return h("div", null, head, setup,
        h("div", { class: "detail-grid" },
          h("div", { class: "detail-main" }, trialsCard(c, flashFor("trials")), subs),
          h("div", { class: "detail-side" }, adminsCard(c, flashFor("admins")))));
    }

    // --- first-time order setup (F18): accept the terms, then the order is set up.
    function setupCard(c, pending, flashNode) {
      const card = h("section", { class: "card card-attention", testid: "setup", "aria-labelledby": "setup-title" },
        h("div", { class: "card-head" },
          h("div", null, h("h2", { id: "setup-title" }, "Ready for order setup"),
            h("div", { class: "sub" }, "These ordered subscriptions are waiting for their first-time setup."))),
        flashNode ? h("div", { class: "card-body" }, flashNode) : null,
        h("ul", { class: "plain-list" }, pending.map((sub) => h("li", { testid: "pending-subscription", "data-subscription-id": sub.subscriptionId },
          h("code", null, sub.subscriptionId), ` — ${sub.licenses.map((l) => `${PRODUCT[l.product]} ${fmtInt(l.total)}`).join(", ") || "no licences"}; term ${fmtDate(sub.startsOn)} – ${fmtDate(sub.endsOn)}${sub.autoRenew ? ", renews automatically" : ""}`))));
      if (!can("setup")) {
        card.append(h("div", { class: "card-foot" }, deniedNote("setup", ["completeOrderSetup"])));
        return card;
      }
      const box = h("div", { class: "form-msg" });
      const errors = new FormErrors("completeOrderSetup", box);
      const terms = h("input", { type: "checkbox", id: nextId("terms"), testid: "accept-terms" });
      const termsLabel = h("label", { class: "check", for: terms.id }, terms, " The customer accepts the terms and conditions of the ordered services");
      errors.field("acceptTerms", terms, termsLabel);
      const button = h("button", { type: "submit", class: "btn btn-primary", testid: "complete-setup", "data-action": "completeOrderSetup" }, "Set up the order");
      const form = h("form", { class: "form", novalidate: true, testid: "setup-form" },
        h("p", { class: "form-note" }, "Setting up makes every subscription above active, as the first-time setup wizard does after the terms are accepted."),
        termsLabel, box, h("div", { class: "form-row" }, button));
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        submit(errors, button, "CompleteOrderSetup", "completeOrderSetup", { customerId: c.id, acceptTerms: terms.checked },
          () => reloadWith("setup", okFlash(`Order set up: ${pending.map((sub) => sub.subscriptionId).join(", ")} ${pending.length === 1 ? "is" : "are"} now active.`, "setup-done")));
      });
      card.append(h("div", { class: "card-foot card-foot-block" }, form));
      return card;
    }

    // --- trials: the active one with its actions, or the form to start one; then the history.
    function trialsCard(c, flashNode) {
      const active = c.trials.find((t) => t.status === "ACTIVE");
      const card = h("section", { class: "card", testid: "trials", "aria-labelledby": "trials-title" },
        h("div", { class: "card-head" }, h("h2", { id: "trials-title" }, "Trials"),
          h("span", { class: "sub" }, active ? `${active.trialId} active until ${fmtDate(active.endsOn)}` : "No active trial")),
        flashNode ? h("div", { class: "card-body" }, flashNode) : null);
      if (active) card.append(activeTrial(c, active));
      else {
        card.append(h("div", { class: "card-body", testid: "start-trial-panel" },
          h("h3", { class: "h3" }, "Start a trial"),
          can("trials")
            ? startTrialForm({
              customerId: c.id,
              onStarted: (payload) => reloadWith("trials", okFlash(`Trial ${payload.trial.trialId} started; it ends ${fmtDate(payload.trial.endsOn)}.`, "trial-started")),
            })
            : deniedNote("trials", ["startTrial"])));
      }
      card.append(c.trials.length
        ? h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Trial history" }, h("table", { testid: "trials-table" },
          h("caption", { class: "sr-only" }, "All trials of this customer"),
          h("thead", null, h("tr", null, ["Trial", "Status", "Starts", "Ends", "Remaining", "Licences", "Started by"].map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", null, c.trials.map((t) => h("tr", { testid: "trial-row", "data-trial-id": t.trialId, "data-status": t.status },
            h("td", null, h("code", null, t.trialId)),
            h("td", null, badge(titleCase(t.status), PLAN_STATUS[t.status])),
            h("td", { class: "nowrap" }, fmtDate(t.startsOn)),
            h("td", { class: "nowrap" }, fmtDate(t.endsOn)),
            h("td", { class: "nowrap" }, t.status === "ACTIVE" ? fmtDays(t.daysRemaining) : "—"),
            h("td", null, t.licenses.map((l) => `${PRODUCT[l.product]} ${fmtInt(l.total)}`).join(", ") || "—"),
            h("td", null, t.startedBy ? t.startedBy.displayName : h("span", { class: "muted" }, "—")))))))
        : h("div", { class: "empty" }, "No trials yet."));
      return card;
    }

    function activeTrial(c, trial) {
      const length = daysBetween(trial.startsOn, trial.endsOn);
      const room = MAX_TRIAL_DAYS - length;
      const panel = h("div", { class: "card-body active-trial", testid: "active-trial", "data-trial-id": trial.trialId },
        h("div", { class: "trial-facts" },
          h("span", null, h("code", null, trial.trialId), " ", badge("Active", "ok")),
          h("span", null, "Runs ", h("b", null, `${fmtDate(trial.startsOn)} – ${fmtDate(trial.endsOn)}`)),
          h("span", null, "Remaining ", h("b", { testid: "trial-remaining" }, fmtDays(trial.daysRemaining))),
          h("span", null, "Licences ", h("b", null, trial.licenses.map((l) => `${PRODUCT[l.product]} ${fmtInt(l.total)}`).join(", ")))),
        trial.licenses.length ? h("div", { class: "trial-lines" }, trial.licenses.map((l) =>
          h("div", { class: "trial-line" }, h("span", null, PRODUCT[l.product]), licenceBar(l)))) : null);
      if (!can("trials")) {
        panel.append(deniedNote("trials", ["extendTrial", "convertTrial", "cancelTrial"]));
        return panel;
      }

      // Extend
      const extendBox = h("div", { class: "form-msg" });
      const extendErrors = new FormErrors("extendTrial", extendBox);
      const days = h("input", { type: "number", id: nextId("extend-days"), min: "1", max: String(Math.max(room, 1)), step: "1", value: String(Math.max(1, Math.min(7, room))), testid: "extend-days", inputmode: "numeric" });
      const daysField = h("div", { class: "field" }, h("label", { for: days.id }, "Days to add"), days);
      extendErrors.field("days", days, daysField);
      const extendButton = h("button", { type: "submit", class: "btn", testid: "extend-trial", "data-action": "extendTrial" }, "Extend");
      const extend = h("form", { class: "form action-form", novalidate: true, testid: "extend-form", "aria-labelledby": "extend-title" },
        h("h3", { id: "extend-title" }, "Extend"),
        h("p", { class: "form-note", testid: "extend-room" }, room > 0
          ? `It can run ${plural(room, "more day")} in all (at most ${MAX_TRIAL_DAYS} days from its start).`
          : `It already runs the longest a trial may (${MAX_TRIAL_DAYS} days).`),
        h("div", { class: "form-row" }, daysField, extendButton), extendBox);
      extend.addEventListener("submit", (event) => {
        event.preventDefault();
        const n = Number.parseInt(days.value, 10);
        if (!Number.isFinite(n)) { extendErrors.show([{ code: "INVALID_INPUT", field: ["input", "days"] }]); return; }
        submit(extendErrors, extendButton, "ExtendTrial", "extendTrial", { trialId: trial.id, days: n },
          (p) => reloadWith("trials", okFlash(`${p.trial.trialId} extended by ${plural(n, "day")}; it now ends ${fmtDate(p.trial.endsOn)}.`, "trial-extended")));
      });

      // Convert
      const convertBox = h("div", { class: "form-msg" });
      const convertErrors = new FormErrors("convertTrial", convertBox);
      const subId = h("input", { type: "text", id: nextId("sub-id"), testid: "convert-subscription-id", placeholder: "e.g. Sub-200001", autocomplete: "off" });
      const term = h("input", { type: "number", id: nextId("term"), min: "1", max: "60", step: "1", value: "12", testid: "convert-term", inputmode: "numeric" });
      const renew = h("input", { type: "checkbox", id: nextId("renew"), checked: true, testid: "convert-auto-renew" });
      const subField = h("div", { class: "field field-wide" }, h("label", { for: subId.id }, "New subscription ID"), subId);
      const termField = h("div", { class: "field" }, h("label", { for: term.id }, "Term (months)"), term);
      convertErrors.field("subscriptionId", subId, subField);
      convertErrors.field("termMonths", term, termField);
      const convertButton = h("button", { type: "submit", class: "btn btn-primary", testid: "convert-trial", "data-action": "convertTrial" }, "Convert to subscription");
      const convert = h("form", { class: "form action-form", novalidate: true, testid: "convert-form", "aria-labelledby": "convert-title" },
        h("h3", { id: "convert-title" }, "Convert to a subscription"),
        h("p", { class: "form-note" }, "The subscription starts today with the trial's licences and waits for order setup."),
        h("div", { class: "form-row" }, subField, termField),
        h("label", { class: "check", for: renew.id }, renew, " Renews automatically"),
        convertBox, h("div", { class: "form-row" }, convertButton));
      convert.addEventListener("submit", (event) => {
        event.preventDefault();
        const months = Number.parseInt(term.value, 10);
        if (!Number.isFinite(months)) { convertErrors.show([{ code: "INVALID_INPUT", field: ["input", "termMonths"] }]); return; }
        submit(convertErrors, convertButton, "ConvertTrial", "convertTrial",
          { trialId: trial.id, subscriptionId: subId.value.trim(), termMonths: months, autoRenew: renew.checked },
          (p) => reloadWith("setup", okFlash(`${p.trial.trialId} converted: subscription ${p.subscription.subscriptionId} runs ${fmtDate(p.subscription.startsOn)} – ${fmtDate(p.subscription.endsOn)} and is ready for order setup.`, "trial-converted")));
      });

      // Cancel
      const cancelBox = h("div", { class: "form-msg" });
      const cancelErrors = new FormErrors("cancelTrial", cancelBox);
      const cancelButton = h("button", { type: "button", class: "btn btn-danger", testid: "cancel-trial", "data-action": "cancelTrial" }, "Cancel trial");
      cancelButton.addEventListener("click", async () => {
        const sure = await confirmDialog({
          title: `Cancel ${trial.trialId}?`,
          body: h("p", null, `${c.name}'s trial ends now instead of on ${fmtDate(trial.endsOn)}. A cancelled trial cannot be extended or converted.`),
          confirmLabel: "Cancel the trial", danger: true,
        });
        if (!sure) { cancelButton.focus(); return; }
        submit(cancelErrors, cancelButton, "CancelTrial", "cancelTrial", { trialId: trial.id },
          (p) => reloadWith("trials", okFlash(`${p.trial.trialId} cancelled.`, "trial-cancelled")));
      });
      const cancel = h("div", { class: "form action-form", testid: "cancel-form" },
        h("h3", null, "Cancel"), h("p", { class: "form-note" }, "Ends the trial today."), h("div", { class: "form-row" }, cancelButton), cancelBox);

      panel.append(h("div", { class: "trial-actions" }, extend, convert, cancel));
      return panel;
    }

    // --- partner admins assigned to the customer
    function adminsCard(c, flashNode) {
      const mayAssign = can("assign");
      const card = h("section", { class: "card", testid: "admins", "aria-labelledby": "admins-title" },
        h("div", { class: "card-head" }, h("h2", { id: "admins-title" }, "Partner admins"), h("span", { class: "sub" }, "Sales admins assigned to this customer")),
        flashNode ? h("div", { class: "card-body" }, flashNode) : null);
      const box = h("div", { class: "form-msg" });
      const errors = new FormErrors("unassignCustomerAdmins", box);
      card.append(c.partnerAdmins.length
        ? h("ul", { class: "admin-list", testid: "admin-list" }, c.partnerAdmins.map((a) => {
          const row = h("li", { testid: "admin-row", "data-email": a.email },
            h("div", { class: "admin-row" }, h("span", { class: "avatar", "aria-hidden": "true" }, initials(a.displayName)),
              h("div", { class: "admin-who" }, h("b", null, a.displayName), h("span", null, `${a.email} · ${ROLE[a.role]}`))));
          if (mayAssign) {
            const button = h("button", {
              type: "button", class: "btn btn-sm btn-danger", testid: `unassign-${a.email}`, "data-action": "unassignCustomerAdmins",
              "aria-label": `Remove ${a.displayName} from ${c.name}`,
            }, "Remove");
            button.addEventListener("click", async () => {
              const self = a.id === state.viewer.id;
              const sure = await confirmDialog({
                title: `Remove ${a.displayName} from ${c.name}?`,
                body: h("p", null, self
                  ? "This is you: you will no longer see this customer."
                  : `${a.displayName} will no longer see or manage ${c.name}.`),
                confirmLabel: "Remove", danger: true,
              });
              if (!sure) { button.focus(); return; }
              submit(errors, button, "UnassignCustomerAdmins", "unassignCustomerAdmins", { customerId: c.id, adminIds: [a.id] }, (p) => {
                if (!p.customer) {
                  holder.replaceChildren(okFlash(`You are no longer assigned to ${c.name}, so it is no longer visible to you.`, "admin-changed"));
                  return null;
                }
                return reloadWith("admins", okFlash(`${a.displayName} no longer has access to ${c.name}.`, "admin-changed"));
              });
            });
            row.append(button);
          }
          return row;
        }))
        : h("div", { class: "empty" }, "No sales admins assigned. Partner full and read-only admins see every customer."));
      card.append(h("div", { class: "card-body" }, box));
      card.append(h("div", { class: "card-foot card-foot-block" }, mayAssign ? assignForm(c) : deniedNote("assign", ["assignCustomerAdmins", "unassignCustomerAdmins"])));
      return card;
    }

    function assignForm(c) {
      if (!assignable || assignable.error) {
        return h("div", { testid: "assignable-error" }, h("h3", null, "Assign an admin"),
          assignable && assignable.error ? errorBox(assignable.error) : null);
      }
      const assigned = new Set(c.partnerAdmins.map((a) => a.id));
      const candidates = assignable.partnerAdmins.nodes.filter((a) => !assigned.has(a.id));
      const select = h("select", { id: nextId("assign"), testid: "assign-select" },
        candidates.map((a) => h("option", { value: a.id, "data-email": a.email }, `${a.displayName} (${ROLE[a.role]})`)));
      const button = h("button", { type: "submit", class: "btn btn-primary", testid: "assign", "data-action": "assignCustomerAdmins", disabled: !candidates.length }, "Assign");
      const box = h("div", { class: "form-msg" });
      const errors = new FormErrors("assignCustomerAdmins", box);
      const field = h("div", { class: "field field-wide" }, h("label", { for: select.id }, "Sales admin"), select);
      errors.field("adminIds", select, field);
      const form = h("form", { class: "form", novalidate: true, testid: "assign-form" },
        h("h3", null, "Assign an admin"),
        candidates.length ? null : h("p", { class: "form-note" }, "Every sales admin is already assigned."),
        h("div", { class: "form-row" }, field, button), box);
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        const chosen = candidates.find((a) => a.id === select.value);
        if (!chosen) return;
        submit(errors, button, "AssignCustomerAdmins", "assignCustomerAdmins", { customerId: c.id, adminIds: [chosen.id] },
          () => reloadWith("admins", okFlash(`${chosen.displayName} now has access to ${c.name}.`, "admin-changed")));
      });
      return form;
    }

    subscribed.then(() => { if (ctx.alive() && loads === 0) load(); });
    return { name: "customer" };
  }

  function renderSubscription(sub) {
    return h("div", { class: "sub-card", testid: "subscription", "data-subscription-id": sub.subscriptionId, "data-status": sub.status },
      h("div", { class: "sub-head" },
        h("span", { class: "sub-id" }, sub.subscriptionId),
        badge(SUB_STATUS[sub.status], PLAN_STATUS[sub.status], "subscription-status"),
        sub.daysRemaining < 0 ? badge("Term ended", "") : null,
        sub.autoRenew ? badge("Auto-renews", "ok") : badge("No auto-renewal", "warn")),
      h("div", { class: "sub-facts" },
        h("span", null, "Term ", h("b", null, `${fmtDate(sub.startsOn)} – ${fmtDate(sub.endsOn)}`)),
        h("span", null, sub.renewalDate ? "Renews " : "Ends ", h("b", null, fmtDate(sub.renewalDate || sub.endsOn))),
        h("span", null, "Remaining ", h("b", null, fmtDays(sub.daysRemaining)))),
      h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": `Licences of ${sub.subscriptionId}` }, h("table", null,
        h("thead", null, h("tr", null, h("th", { scope: "col" }, "Product"), h("th", { scope: "col", class: "num" }, "Total"),
          h("th", { scope: "col" }, "Used / assigned / available"), h("th", { scope: "col", class: "num" }, "Used (90 days)"), h("th", { scope: "col", class: "num" }, "Over by"))),
        h("tbody", null, sub.licenses.map((l) => h("tr", { testid: "licence-row", "data-product": l.product },
          h("td", null, PRODUCT[l.product]),
          h("td", { class: "num" }, fmtInt(l.total)),
          h("td", { class: "bar-cell" }, licenceBar(l)),
          h("td", { class: "num" }, fmtInt(l.usedLast90Days)),
          h("td", { class: "num" }, l.overage ? badge(fmtInt(l.overage), "bad") : "0")))))),
      h("details", null,
        h("summary", null, `Invoices (${sub.invoices.length}) and orders (${sub.orders.length})`),
        sub.invoices.length ? h("div", { class: "table-wrap" }, h("table", null,
          h("thead", null, h("tr", null, ["Invoice", "Issued", "Due", "Status"].map((t) => h("th", { scope: "col" }, t)), h("th", { scope: "col", class: "num" }, "Amount"))),
          h("tbody", null, sub.invoices.map((inv) => h("tr", null,
            h("td", null, inv.number), h("td", { class: "nowrap" }, fmtDate(inv.issuedOn)), h("td", { class: "nowrap" }, fmtDate(inv.dueOn)),
            h("td", null, badge(titleCase(inv.status), PLAN_STATUS[inv.status])),
            h("td", { class: "num" }, `${Number(inv.amount).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })} ${inv.currency}`)))))) : h("p", { class: "muted" }, "No invoices."),
        sub.orders.length ? h("div", { class: "table-wrap" }, h("table", null,
          h("thead", null, h("tr", null, ["Order", "Placed", "Action", "Product"].map((t) => h("th", { scope: "col" }, t)), h("th", { scope: "col", class: "num" }, "Quantity"))),
          h("tbody", null, sub.orders.map((o) => h("tr", null,
            h("td", null, o.number), h("td", { class: "nowrap" }, fmtDate(o.placedOn)),
            h("td", null, titleCase(o.action)),
            h("td", null, PRODUCT[o.product]), h("td", { class: "num" }, fmtInt(o.quantity))))))) : h("p", { class: "muted" }, "No orders.")));
  }

  // A start-trial form for an existing customer (customerId) or a new one (newCustomer).
  function startTrialForm({ customerId, newCustomer = false, onStarted }) {
    const box = h("div", { class: "form-msg", testid: "trial-msg" });
    const errors = new FormErrors("startTrial", box);
    const ids = { name: nextId("trial-name"), managed: nextId("trial-managed"), licenses: nextId("trial-licenses"), days: nextId("trial-days") };
    let nameField = null, managedBy = null, name = null;
    if (newCustomer) {
      name = h("input", { type: "text", id: ids.name, placeholder: "New customer name", testid: "trial-name", autocomplete: "off" });
      managedBy = h("select", { id: ids.managed, testid: "trial-managed-by" }, Object.entries(MANAGED_BY).map(([v, label]) => h("option", { value: v }, label)));
      nameField = h("div", { class: "field field-wide" }, h("label", { for: ids.name }, "Customer name"), name);
      errors.field("newCustomer.name", name, nameField);
    }
    const checks = Object.entries(PRODUCT).map(([value, label]) =>
      h("label", { class: "check" }, h("input", { type: "checkbox", name: "products", value, checked: value === "MEETINGS", testid: `trial-product-${value}` }), ` ${label}`));
    const products = h("fieldset", { class: "field checks-field" }, h("legend", null, "Products"), h("div", { class: "checks" }, checks));
    errors.field("products", checks[0].querySelector("input"), products);
    const licenses = h("input", { type: "number", id: ids.licenses, value: "25", min: "1", max: "1000", step: "1", testid: "trial-licenses", inputmode: "numeric" });
    const days = h("input", { type: "number", id: ids.days, value: "30", min: "1", max: String(MAX_TRIAL_DAYS), step: "1", testid: "trial-days", inputmode: "numeric" });
    const licensesField = h("div", { class: "field" }, h("label", { for: ids.licenses }, "Licences per product"), licenses);
    const daysField = h("div", { class: "field" }, h("label", { for: ids.days }, "Days"), days);
    errors.field("licenses", licenses, licensesField);
    errors.field("days", days, daysField);
    const button = h("button", { type: "submit", class: "btn btn-primary", testid: "start-trial", "data-action": "startTrial" }, "Start trial");
    const form = h("form", { class: "form", novalidate: true, testid: "trial-form" },
      newCustomer ? h("div", { class: "form-row" }, nameField,
        h("div", { class: "field" }, h("label", { for: ids.managed }, "Managed by"), managedBy)) : null,
      products,
      h("div", { class: "form-row" }, licensesField, daysField),
      box,
      h("div", { class: "form-row" }, button));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const input = {
        products: checks.map((l) => l.querySelector("input")).filter((i) => i.checked).map((i) => i.value),
        licenses: Number.parseInt(licenses.value, 10),
        days: Number.parseInt(days.value, 10),
      };
      if (newCustomer) input.newCustomer = { name: name.value.trim(), managedBy: managedBy.value };
      else input.customerId = customerId;
      const notNumbers = [["licenses", input.licenses], ["days", input.days]].filter(([, v]) => !Number.isFinite(v));
      if (notNumbers.length) {
        errors.show(notNumbers.map(([key]) => ({ code: "INVALID_INPUT", field: ["input", key] })));
        return;
      }
      submit(errors, button, "StartTrial", "startTrial", input, onStarted);
    });
    return form;
  }

  // ------------------------------------------------------------ administrators

  const ADMIN_PAGE = 25;
  // An audit event that may change the Administrators list: an admin added, its role
  // changed or removed; a customer assignment (the "assigned customers" counts), also
  // that of a sales admin who started a trial for a new customer (assigned to it).
  const changesAdmins = (e) => e.targetType === "PartnerAdmin"
    || e.action === "assignCustomerAdmins" || e.action === "unassignCustomerAdmins"
    || (e.action === "startTrial" && Boolean(e.details && e.details.assignedToActor));

  function mountAdmins(root, initial, ctx) {
    let params = { ...initial };
    const manage = can("admins");
    const search = h("input", { type: "search", id: "admin-q", placeholder: "Name or email…", testid: "admin-q", autocomplete: "off" });
    const roleBox = h("div");
    const count = h("span", { testid: "admin-count", "aria-live": "polite" });
    const flashBox = h("div", { testid: "admins-flash" });
    const body = h("div", { testid: "admins" }, h("div", { class: "loading" }, "Loading administrators…"));
    const more = h("button", { type: "button", class: "btn btn-sm", testid: "admins-more", hidden: true }, "Show more");
    // Live (roles that may read the audit log, whose events announce admin changes).
    const liveAdmins = can("audit");
    const hint = liveAdmins ? liveHint("live-hint-admins") : null;
    const showChanges = h("button", { type: "button", class: "btn btn-sm btn-primary", testid: "admins-show-changes" }, "Show the changes");
    const changedNote = h("div", { class: "live-changed", testid: "admins-changed", hidden: true },
      h("span", null, "Changed elsewhere; your unsaved entries are kept."), showChanges);
    let typing;
    const update = (changes, replace = false) => navigate(listHash({ ...params, ...changes }, "#/admins"), { replace });
    search.addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(() => update({ q: search.value.trim() }, true), 300); });
    search.addEventListener("keydown", (event) => { if (event.key === "Enter") { clearTimeout(typing); update({ q: search.value.trim() }, true); } });

    root.append(
      h("div", { class: "page-head" },
        h("div", null, h("h1", null, "Administrators"),
          h("div", { class: "sub" }, count, " · partner admins of your organisation and their roles")), liveSlot(changedNote, hint)),
      h("p", { class: "muted intro" }, "Partner full and read-only admins see every customer; sales admins see the customers assigned to them (assign them on a customer's page)."),
      flashBox,
      manage ? createAdminCard() : deniedNote("admins", ["createPartnerAdmin", "setPartnerAdminRole", "removePartnerAdmin"]),
      h("section", { class: "card", "aria-label": "Administrators" },
        h("div", { class: "filters filters-admins", role: "search", "aria-label": "Filter administrators" },
          h("div", { class: "field field-wide" }, h("label", { for: "admin-q" }, "Search"), search),
          h("div", { class: "field" }, h("span", { class: "label" }, "Role"), roleBox)),
        body,
        h("div", { class: "card-foot" }, h("span", { class: "muted", testid: "admins-shown" }), more)));

    let seq = 0;
    let after = null;
    let rows = [];
    let fullAdmins = 0;
    let drawn = null; // the list as last drawn (JSON): a live refetch that finds it unchanged draws nothing
    // This page's own load (opened, filtered, after a change made here) not yet drawn. A live
    // refetch that supersedes it (the change's own audit event) draws as that load would have:
    // treated as live, a role just saved would look like a role chosen but not saved, and the
    // row would keep its old role behind a "changed elsewhere" note.
    let ownPending = false;
    // reason: load (opened, filtered, after this page's own change), or live, reset, reconnect, subscribed.
    async function load({ append: more_ = false, reason = "load", asked = false } = {}) {
      const mine = ++seq;
      if (reason === "load" && !more_) ownPending = true;
      const again = reason !== "load" && !more_ && !ownPending;
      if (document.activeElement !== search) search.value = params.q || "";
      if (!more_ && !(document.activeElement && document.activeElement.closest && document.activeElement.closest("details.multi"))) {
        roleBox.replaceChildren(multiSelect({ label: "Role", options: ROLE, selected: list(params.role), testid: "admin-role-filter", onChange: (v) => update({ role: v.join(",") }) }));
      }
      const filter = {};
      if (params.q) filter.search = params.q;
      if (list(params.role).length) filter.roles = list(params.role);
      body.classList.add("stale");
      try {
        // A live refetch fetches as many rows as are shown (after "Show more"), up to 100.
        const first = again ? Math.min(100, Math.max(ADMIN_PAGE, rows.length)) : ADMIN_PAGE;
        const data = await gql("PartnerAdmins", { first, after: more_ ? after : null, filter });
        if (!ctx.alive() || mine !== seq) return;
        const conn = data.partnerAdmins;
        const json = JSON.stringify([conn, data.fullAdmins]);
        if (again && json === drawn) {
          if (asked) changedNote.hidden = true;
          if (hint) markUpdated(hint, reason);
          return;
        }
        if (again && !asked && editing(body)) {
          // A role chosen but not saved, a refusal shown or a confirmation open: keep it, offer the changes.
          changedNote.hidden = false;
          changedNote.dataset.reason = reason;
          return;
        }
        if (!more_) { drawn = json; ownPending = false; }
        changedNote.hidden = true;
        if (hint) markUpdated(hint, reason);
        fullAdmins = data.fullAdmins.totalCount;
        rows = more_ ? rows.concat(conn.nodes) : conn.nodes;
        after = conn.pageInfo.endCursor;
        more.hidden = !conn.pageInfo.hasNextPage;
        count.textContent = plural(conn.totalCount, "administrator");
        count.dataset.total = conn.totalCount;
        $("[data-testid=admins-shown]", root).textContent = `Showing ${fmtInt(rows.length)} of ${fmtInt(conn.totalCount)}`;
        renderRows();
      } catch (err) {
        if (!ctx.alive() || mine !== seq) return;
        if (again) return; // a failed live refetch keeps the list shown (the hint ages)
        if (!more_) ownPending = false;
        body.replaceChildren(errorBox(err, "admins-error"));
      } finally {
        if (mine === seq) body.classList.remove("stale");
      }
    }
    more.addEventListener("click", () => load({ append: true }));

    const flash = (node) => { flashBox.replaceChildren(node); node.focus(); };

    function renderRows() {
      if (!rows.length) { body.replaceChildren(h("div", { class: "empty", testid: "admins-empty" }, "No administrators match.")); return; }
      body.replaceChildren(h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Administrators" }, h("table", { testid: "admins-table" },
        h("thead", null, h("tr", null, ["Administrator", "Role", "Access", manage ? "Actions" : null].filter(Boolean).map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", null, rows.map(adminRow)))));
    }

    function adminRow(a) {
      const self = a.id === state.viewer.id;
      const lastFull = a.role === "PARTNER_FULL_ADMIN" && fullAdmins === 1;
      const box = h("div", { class: "form-msg" });
      const tr = h("tr", { testid: "admin-entry", "data-email": a.email, "data-role": a.role });
      const who = h("td", { class: "name" },
        h("div", { class: "admin-row" }, h("span", { class: "avatar", "aria-hidden": "true" }, initials(a.displayName)),
          h("div", { class: "admin-who" }, h("b", null, a.displayName, self ? " " : null, self ? badge("You", "accent") : null), h("span", null, a.email))));
      let roleCell;
      if (manage) {
        const errors = new FormErrors("setPartnerAdminRole", box);
        const select = h("select", { testid: "role-select", "data-action": "setPartnerAdminRole", "aria-label": `Role of ${a.displayName}` },
          Object.entries(ROLE).map(([v, label]) => h("option", { value: v, selected: v === a.role }, label)));
        errors.field("role", select);
        const save = h("button", { type: "button", class: "btn btn-sm btn-primary", testid: "save-role", hidden: true }, "Save role");
        select.addEventListener("change", () => { save.hidden = select.value === a.role; });
        save.addEventListener("click", async () => {
          const role = select.value;
          const demotingSelf = self && role !== "PARTNER_FULL_ADMIN";
          const wide = role === "PARTNER_FULL_ADMIN" || role === "PARTNER_READ_ONLY_ADMIN";
          const assignedCount = a.assignedCustomers.totalCount;
          if (demotingSelf || (wide && assignedCount)) {
            const sure = await confirmDialog({
              title: `Make ${a.displayName} a ${ROLE[role]}?`,
              body: h("div", null,
                demotingSelf ? h("p", null, `This is you: you will lose what a ${ROLE[a.role]} may do, at once.`) : null,
                wide && assignedCount ? h("p", null, `${ROLE[role]}s see every customer, so ${a.displayName}'s ${plural(assignedCount, "customer assignment")} will be removed.`) : null),
              confirmLabel: "Change role",
            });
            if (!sure) { select.value = a.role; save.hidden = true; return; }
          }
          submit(errors, save, "SetPartnerAdminRole", "setPartnerAdminRole", { adminId: a.id, role }, async (p) => {
            if (self && (await refreshViewer())) { route(); return; }
            flash(okFlash(`${p.partnerAdmin.displayName} is now a ${ROLE[p.partnerAdmin.role]}.`, "admin-saved"));
            await load();
          });
        });
        roleCell = h("td", null, h("div", { class: "role-edit" }, select, save), box);
      } else {
        roleCell = h("td", null, ROLE[a.role]);
      }
      const access = a.hasAccessToAllCustomers
        ? h("td", null, "All customers")
        : h("td", null, h("a", { href: listHash({ assignedTo: a.id }), testid: "assigned-link" }, `${plural(a.assignedCustomers.totalCount, "assigned customer")}`));
      tr.append(who, roleCell, access);
      if (lastFull) roleCell.append(withTip(h("span", { class: "badge badge-info", tabindex: "0", testid: "only-full-admin" }, "Only full admin"),
        () => h("div", { class: "tt-text" }, "The partner must always keep at least one full admin, so this admin's role cannot be lowered and they cannot be removed until another admin is a Partner full admin.")));
      if (manage) {
        const errors = new FormErrors("removePartnerAdmin", box);
        const remove = h("button", {
          type: "button", class: "btn btn-sm btn-danger", testid: "remove-admin", "data-action": "removePartnerAdmin",
          "aria-label": `Remove ${a.displayName}`,
        }, "Remove");
        remove.addEventListener("click", async () => {
          const sure = await confirmDialog({
            title: `Remove ${a.displayName}?`,
            body: h("div", null,
              h("p", null, `${a.email} loses access at once: their API tokens stop working${a.hasAccessToAllCustomers ? "" : ` and their ${plural(a.assignedCustomers.totalCount, "customer assignment")} are removed`}. The audit log keeps their email.`),
              self ? h("p", null, h("b", null, "This is you: you will be signed out.")) : null,
              lastFull ? h("p", null, "They are the partner's only full admin, so the server will refuse this until another admin is a Partner full admin.") : null),
            confirmLabel: "Remove administrator", danger: true,
          });
          if (!sure) { remove.focus(); return; }
          submit(errors, remove, "RemovePartnerAdmin", "removePartnerAdmin", { adminId: a.id }, async () => {
            if (self) { signOut("You removed your own administrator account; your token no longer works."); return; }
            flash(okFlash(`${a.displayName} (${a.email}) was removed.`, "admin-removed"));
            await load();
          });
        });
        tr.append(h("td", null, remove));
      }
      return tr;
    }

    function createAdminCard() {
      const box = h("div", { class: "form-msg" });
      const errors = new FormErrors("createPartnerAdmin", box);
      const email = h("input", { type: "email", id: "new-admin-email", testid: "new-admin-email", autocomplete: "off", placeholder: "name@example.com" });
      const name = h("input", { type: "text", id: "new-admin-name", testid: "new-admin-name", autocomplete: "off" });
      const role = h("select", { id: "new-admin-role", testid: "new-admin-role" }, Object.entries(ROLE).map(([v, label]) => h("option", { value: v, selected: v === "SALES_ADMIN" }, label)));
      const roleNote = h("p", { class: "form-note", testid: "role-note" }, ROLE_NOTE.SALES_ADMIN);
      role.addEventListener("change", () => { roleNote.textContent = ROLE_NOTE[role.value]; });
      const emailField = h("div", { class: "field field-wide" }, h("label", { for: email.id }, "Email"), email);
      const nameField = h("div", { class: "field field-wide" }, h("label", { for: name.id }, "Name"), name);
      errors.field("email", email, emailField);
      errors.field("displayName", name, nameField);
      errors.field("role", role);
      const button = h("button", { type: "submit", class: "btn btn-primary", testid: "create-admin", "data-action": "createPartnerAdmin" }, "Add administrator");
      const form = h("form", { class: "form", novalidate: true, testid: "create-admin-form" },
        h("div", { class: "form-row" }, emailField, nameField, h("div", { class: "field" }, h("label", { for: role.id }, "Role"), role)),
        roleNote, box, h("div", { class: "form-row" }, button));
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        submit(errors, button, "CreatePartnerAdmin", "createPartnerAdmin", { email: email.value.trim(), displayName: name.value.trim(), role: role.value }, async (p) => {
          flash(okFlash(`${p.partnerAdmin.displayName} (${p.partnerAdmin.email}) was added as a ${ROLE[p.partnerAdmin.role]}. Give them a token with "partnerhub token create ${p.partnerAdmin.email}".`, "admin-created"));
          form.reset();
          roleNote.textContent = ROLE_NOTE[role.value];
          await load();
        });
      });
      return h("details", { class: "card create-card", testid: "create-admin-card" },
        h("summary", { class: "card-head" }, h("h2", null, "Add an administrator")),
        h("div", { class: "card-body" }, form));
    }

    showChanges.addEventListener("click", () => load({ reason: changedNote.dataset.reason || "live", asked: true }));
    const refetchLive = coalesce(() => load({ reason: "live" }));
    const ready = liveAdmins
      ? ctx.live("LiveAdmins", {}, {
        onEvent: (data) => { if (data && data.auditEvent && changesAdmins(data.auditEvent)) refetchLive(); },
        onReset: (why) => load({ reason: why }),
      })
      : Promise.resolve();
    // The first fetch waits for the subscription (see liveSubscribe).
    ready.then(() => { if (ctx.alive() && seq === 0) load(); });
    return { name: "admins", update(newParams) { params = { ...newParams }; after = null; load(); } };
  }

  // ------------------------------------------------------------ audit log

  const AUDIT_PAGE = 25;
  const ACTION_TEXT = {
    startTrial: "Started a trial", extendTrial: "Extended a trial", cancelTrial: "Cancelled a trial", convertTrial: "Converted a trial",
    assignCustomerAdmins: "Assigned admins", unassignCustomerAdmins: "Removed assigned admins",
    createPartnerAdmin: "Added an administrator", setPartnerAdminRole: "Changed a role", removePartnerAdmin: "Removed an administrator",
    completeOrderSetup: "Completed an order setup",
  };

  function auditSummary(e, names) {
    const d = e.details || {};
    // Names come from the first 100 admins (AuditLog asks for no more): past that, or once removed, the id is unnamed.
    const who = (ids) => (ids || []).map((id) => names.get(id) || "an admin not listed (removed, or beyond the first 100)").join(", ") || "nobody";
    const products = (list_) => (list_ || []).map((p) => PRODUCT[p] || p).join(", ");
    switch (e.action) {
      case "startTrial":
        return `${d.trialId}: ${products(d.products)}, ${plural(d.licenses, "licence")} each, ${fmtDate(d.startsOn)} – ${fmtDate(d.endsOn)}${d.newCustomer ? ` for the new customer ${d.newCustomer.name}` : ""}.`;
      case "extendTrial":
        return `${d.trialId} by ${plural(d.days, "day")}: ends ${fmtDate(d.endsOn && d.endsOn.from)} → ${fmtDate(d.endsOn && d.endsOn.to)}.`;
      case "cancelTrial":
        return `${d.trialId} is cancelled.`;
      case "convertTrial":
        return `${d.trialId} became subscription ${d.subscriptionId} (${plural(d.termMonths, "month")}, ${d.autoRenew ? "renews automatically" : "no auto-renewal"}).`;
      case "assignCustomerAdmins":
        return `Assigned: ${who(d.added)}${d.alreadyAssigned && d.alreadyAssigned.length ? `; already assigned: ${who(d.alreadyAssigned)}` : ""}.`;
      case "unassignCustomerAdmins":
        return `Removed: ${who(d.removed)}${d.notAssigned && d.notAssigned.length ? `; not assigned: ${who(d.notAssigned)}` : ""}.`;
      case "createPartnerAdmin":
        return `${d.displayName} (${d.email}) as ${ROLE[d.role] || d.role}.`;
      case "setPartnerAdminRole":
        return `${d.email}: ${ROLE[d.role && d.role.from] || "?"} → ${ROLE[d.role && d.role.to] || "?"}${d.removedAssignments && d.removedAssignments.length ? ` (${plural(d.removedAssignments.length, "assignment")} removed)` : ""}.`;
      case "removePartnerAdmin":
        return `${d.displayName} (${d.email}), ${ROLE[d.role] || d.role}; ${plural((d.removedAssignments || []).length, "assignment")} removed, ${plural(d.revokedTokens || 0, "token")} revoked.`;
      case "completeOrderSetup":
        return `${(d.activated || []).map((x) => x.subscriptionId).join(", ")} now active.`;
      default:
        return JSON.stringify(d);
    }
  }

  function mountAudit(root, _params, ctx) {
    const count = h("span", { testid: "audit-count" });
    const body = h("div", { testid: "audit" }, h("div", { class: "loading" }, "Loading the audit log…"));
    const range = h("span", { class: "muted", testid: "audit-range" });
    const prev = h("button", { type: "button", class: "btn btn-sm", testid: "audit-prev", disabled: true }, "← Newer");
    const next = h("button", { type: "button", class: "btn btn-sm", testid: "audit-next", disabled: true }, "Older →");
    const hint = liveHint("live-hint-audit");
    const newest = h("button", { type: "button", class: "btn btn-sm btn-primary", testid: "audit-newest" }, "Show the newest");
    const newer = h("div", { class: "live-changed", testid: "audit-new", hidden: true }, h("span", null, "New events since this page was opened."), newest);
    root.append(
      h("div", { class: "page-head" }, h("div", null, h("h1", null, "Audit log"), h("div", { class: "sub" }, count, " · every change made through the API, newest first")), liveSlot(newer, hint)),
      h("section", { class: "card", "aria-label": "Audit events" }, body,
        h("div", { class: "card-foot" }, range, h("nav", { class: "pager", "aria-label": "Pages" }, prev, next))));
    const cursors = [null]; // `after` of each page seen
    let index = 0;
    let loads = 0;
    async function load(reason = "load") {
      const mine = ++loads;
      body.classList.add("stale");
      try {
        const data = await gql("AuditLog", { first: AUDIT_PAGE, after: cursors[index] });
        if (!ctx.alive() || mine !== loads) return;
        if (index === 0) newer.hidden = true;
        markUpdated(hint, reason);
        const conn = data.auditLog;
        const names = new Map(data.partnerAdmins.nodes.map((a) => [a.id, a.displayName]));
        count.textContent = plural(conn.totalCount, "event");
        count.dataset.total = conn.totalCount;
        cursors[index + 1] = conn.pageInfo.endCursor;
        prev.disabled = index === 0;
        next.disabled = !conn.pageInfo.hasNextPage;
        const start = index * AUDIT_PAGE;
        range.textContent = conn.nodes.length ? `${fmtInt(start + 1)}–${fmtInt(start + conn.nodes.length)} of ${fmtInt(conn.totalCount)}` : "";
        if (!conn.nodes.length) { body.replaceChildren(h("div", { class: "empty", testid: "audit-empty" }, "Nothing has been changed yet.")); return; }
        body.replaceChildren(h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Audit events" }, h("table", { testid: "audit-table" },
          h("thead", null, h("tr", null, ["When (UTC)", "Who", "What", "Details"].map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", null, conn.nodes.map((e) => h("tr", { testid: "audit-row", "data-id": e.id, "data-event": e.action },
            h("td", { class: "nowrap" }, fmtTime(e.at)),
            h("td", null, e.actor ? e.actor.displayName : e.actorEmail, h("div", { class: "muted small" }, e.actorEmail)),
            h("td", null, ACTION_TEXT[e.action] || e.action,
              e.targetType === "Customer" || (e.action === "startTrial" && e.details && e.details.customer)
                ? h("div", null, h("a", { class: "small", href: customerHref(e.targetType === "Customer" ? e.targetId : e.details.customer) }, "Open the customer")) : null),
            h("td", { testid: "audit-details" }, auditSummary(e, names))))))));
      } catch (err) {
        if (!ctx.alive() || mine !== loads) return;
        if (reason !== "load") return; // a failed live refetch keeps the events shown (the hint ages)
        body.replaceChildren(errorBox(err, "audit-error"));
      } finally {
        if (mine === loads) body.classList.remove("stale");
      }
    }
    prev.addEventListener("click", () => { if (index > 0) { index -= 1; load(); } });
    next.addEventListener("click", () => { index += 1; load(); });
    newest.addEventListener("click", () => { index = 0; cursors.length = 1; load(); });
    // Live: the first page is fetched again for each new event; on an older page (whose
    // cursors a new event would shift) a button offers the newest instead.
    const refetchFirst = coalesce(() => load("live"));
    const arrived = (reason) => {
      if (index === 0) { if (reason === "live") refetchFirst(); else load(reason); }
      else newer.hidden = false;
    };
    // The first fetch waits for the subscription (see liveSubscribe).
    ctx.live("LiveAudit", {}, { onEvent: () => arrived("live"), onReset: arrived }).then(() => { if (ctx.alive() && loads === 0) load(); });
    return { name: "audit" };
  }

  // ------------------------------------------------------------ start

  (async () => {
    featuresReady = detectFeatures();
    if (!state.token) {
      signOut();
      return;
    }
    try {
      await signIn(state.token);
    } catch (err) {
      signOut(err.code === "UNAUTHENTICATED" ? "Your saved token is no longer accepted. Sign in with a new token." : describe(err));
    }
  })();
})();
