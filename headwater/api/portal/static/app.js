// Headwater's data portal: a small vanilla app over the hub's own JSON API.
// Every element is built with textContent (never innerHTML), secret inputs are password
// fields that are cleared once submitted, and no API response ever carries a secret value (but for
// a new S3 access key's own secret, in the response that creates it: shown that once, never kept).
"use strict";

const CSRF_COOKIE = "headwater_csrf";
const main = document.getElementById("main");
const state = { me: null, kinds: null, jobs: false };

// ---------------------------------------------------------------------------------------
// DOM helpers

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "text") el.textContent = value;
    else if (key === "class") el.className = value;
    else if (key === "value") el.value = value;
    else if (key === "checked" || key === "selected") el[key] = Boolean(value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

let uid = 0;
const nextId = (prefix) => `${prefix}-${++uid}`;

// Children that are null, undefined or false are left out (replaceChildren would print them as text).
const present = (children) => children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false);

function page(title, ...children) {
  document.title = `${title} · Headwater`;
  const heading = h("h1", { text: title, tabindex: "-1" });
  main.replaceChildren(heading, flash.take(), ...present(children));
  main.dataset.rendered = String(Number(main.dataset.rendered || 0) + 1); // a count of pages shown, for tests to wait on
  heading.focus();
  return heading;
}

// One message carried over to the next page (e.g. "created"), shown in a status region.
const flash = {
  message: null,
  failed: false,
  set(text, failed = false) { this.message = text; this.failed = failed; },
  take() {
    const cls = !this.message ? "flash empty" : this.failed ? "flash failed" : "flash";
    const box = h("p", { id: "flash", role: "status", class: cls, text: this.message || "" });
    this.message = null;
    return box;
  },
};

function errorBox() {
  return h("p", { class: "error", role: "alert", hidden: true });
}

function showError(box, err) {
  box.textContent = err instanceof Error ? err.message : String(err);
  box.hidden = false;
}

function field(labelText, input, hint) {
  if (!input.id) input.id = nextId("f");
  const parts = [h("label", { for: input.id, text: labelText })];
  if (hint) {
    const hintId = `${input.id}-hint`;
    input.setAttribute("aria-describedby", hintId);
    parts.push(h("small", { id: hintId, class: "hint", text: hint }));
  }
  return h("div", { class: input.type === "checkbox" ? "field check" : "field" }, input.type === "checkbox" ? [input, parts] : [parts, input]);
}

function fmtTime(iso) {
  if (!iso) return "never";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

function timeEl(iso) {
  return iso ? h("time", { datetime: iso, text: fmtTime(iso) }) : h("span", { text: "never" });
}

function fmtSize(bytes) {
  if (bytes === null || bytes === undefined) return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = Number(bytes);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

function confirmAction(text, action = "Delete") {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-text").textContent = text;
  document.getElementById("confirm-ok").textContent = action;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
  });
}

// A table that turns into labelled cards on a narrow screen (see app.css); "data" tables scroll instead.
function table(caption, headers, rows, emptyText, kind = "cards") {
  if (!rows.length) return h("p", { class: "empty", text: emptyText });
  return h("div", { class: "table-wrap" },
    h("table", { class: kind },
      h("caption", { class: "visually-hidden", text: caption }),
      h("thead", {}, h("tr", {}, headers.map((name) => h("th", { scope: "col", text: name })))),
      h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((cell, i) => h("td", { "data-label": headers[i] }, cell)))))));
}

// ---------------------------------------------------------------------------------------
// The API

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function csrfToken() {
  for (const part of document.cookie.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === CSRF_COOKIE) return decodeURIComponent(rest.join("="));
  }
  return "";
}

async function errorOf(response) {
  let code = "error";
  let message = response.headers.get("X-Error-Message") || `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (body && body.error) { code = body.error.code || code; message = body.error.message || message; }
  } catch (_) { /* not JSON: keep the header's message */ }
  return new ApiError(response.status, code, message);
}

async function api(method, path, body, { raw = false, headers = {} } = {}) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json", ...headers } };
  if (method !== "GET" && method !== "HEAD") init.headers["X-CSRF-Token"] = csrfToken();
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (!response.ok) {
    const err = method === "HEAD" ? new ApiError(response.status, "error", response.headers.get("X-Error-Message") || `${response.status}`) : await errorOf(response);
    if (response.status === 401 && path !== "/v1/session") { signedOut(); }
    throw err;
  }
  if (raw) return response;
  if (response.status === 204) return null;
  return response.json();
}

const enc = (segment) => encodeURIComponent(segment);
const dataUrl = (conn, path) => `/v1/connector/${enc(conn)}/${path.split("/").map(enc).join("/")}`;

async function kinds() {
  if (!state.kinds) state.kinds = (await api("GET", "/v1/connectors")).connectors;
  return state.kinds;
}

const kindOf = (list, name) => list.find((k) => k.kind === name);
const connOf = (source) => `${source.protocol}+${source.label}`;

// ---------------------------------------------------------------------------------------
// Signing in and out

function signedOut() {
  state.me = null;
  document.getElementById("nav").hidden = true;
  document.getElementById("who").hidden = true;
  renderSignIn();
}

function signedIn(me) {
  state.me = me;
  document.getElementById("nav").hidden = false;
  document.getElementById("who").hidden = false;
  document.getElementById("who-name").textContent = `${me.user} · ${me.organization}${me.admin ? " (admin)" : ""}`;
}

function renderSignIn() {
  const token = h("input", { type: "password", name: "token", autocomplete: "off", required: true, spellcheck: "false" });
  const error = errorBox();
  const form = h("form", { class: "panel narrow", "aria-label": "Sign in" },
    h("p", { text: "Sign in with a Headwater token (printed by headwater serve, or issued by an administrator)." }),
    field("Token", token, "Kept only in an HttpOnly cookie for this browser session."),
    error,
    h("div", { class: "actions" }, h("button", { type: "submit", text: "Sign in" })));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    try {
      await api("POST", "/v1/session", { token: token.value });
      form.reset();
      signedIn(await api("GET", "/v1/me"));
      await detectJobs();
      if (!location.hash || location.hash === "#/signin") location.hash = "#/sources";
      else route();
    } catch (err) {
      showError(error, err);
      token.focus();
    }
  });
  page("Sign in", form);
  token.focus();
}

async function signOut() {
  try { await api("DELETE", "/v1/session"); } catch (_) { /* signed out either way */ }
  flash.set("Signed out.");
  signedOut();
}

async function detectJobs() {
  try {
    await api("GET", "/v1/jobs");
    state.jobs = true;
  } catch (_) {
    state.jobs = false;
  }
  document.getElementById("nav-jobs").hidden = !state.jobs;
}

// ---------------------------------------------------------------------------------------
// Forms generated from a kind's JSON schema

function resolveRef(schema, node) {
  if (node && node.$ref && node.$ref.startsWith("#/$defs/")) return schema.$defs[node.$ref.slice(8)] || {};
  return node || {};
}

// One property as a form control: {type, nullable, enum, ...} with anyOf[..., null] folded in.
function describe(schema, name, prop) {
  let node = resolveRef(schema, prop);
  let nullable = false;
  if (node.anyOf) {
    const options = node.anyOf.map((o) => resolveRef(schema, o)).filter((o) => { if (o.type === "null") { nullable = true; return false; } return true; });
    if (options.length === 1) node = { ...options[0], description: prop.description, default: prop.default, title: prop.title };
  }
  const required = (schema.required || []).includes(name);
  return { name, node, nullable, required, description: node.description || prop.description || "", default: prop.default };
}

function humanize(name, title) {
  const spaced = name.replace(/([a-z0-9])([A-Z])/g, "$1 $2").replace(/[_-]+/g, " ").toLowerCase();
  if (title && title.replace(/\s+/g, "").toLowerCase() !== name.replace(/[_-]/g, "").toLowerCase()) return title;
  return spaced.charAt(0).toUpperCase() + spaced.slice(1);
}

function schemaControl(info, current) {
  const { node, required } = info;
  const has = current !== undefined && current !== null;
  const isText = (v) => typeof v === "string" || typeof v === "number";
  if (node.enum) {
    const select = h("select", { required },
      required ? null : h("option", { value: "", text: info.default === undefined || info.default === null ? "(default)" : `(default: ${info.default})` }),
      node.enum.map((v) => h("option", { value: String(v), text: String(v), selected: has && current === v })));
    return { input: select, read: () => select.value || undefined };
  }
  if (node.type === "boolean") {
    const select = h("select", {},
      h("option", { value: "", text: info.default === undefined || info.default === null ? "(default)" : `(default: ${info.default ? "yes" : "no"})` }),
      h("option", { value: "true", text: "Yes", selected: current === true }),
      h("option", { value: "false", text: "No", selected: current === false }));
    return { input: select, read: () => (select.value === "" ? undefined : select.value === "true") };
  }
  if ((node.type === "number" || node.type === "integer") && (!has || typeof current === "number")) {
    const input = h("input", { type: "number", required, step: node.type === "integer" ? "1" : "any", min: node.minimum, max: node.maximum,
      placeholder: info.default ?? "", value: has ? String(current) : "" });
    return { input, read: () => (input.value === "" ? undefined : Number(input.value)) };
  }
  if (node.type === "array" && (!has || (Array.isArray(current) && current.every(isText)))) {
    const area = h("textarea", { rows: 3, required, value: has ? current.join("\n") : "" });
    return { input: area, hint: "One per line.", read: () => { const items = area.value.split("\n").map((s) => s.trim()).filter(Boolean); return items.length ? items : undefined; } };
  }
  if (node.type === "object" && node.additionalProperties && node.additionalProperties.type === "string" && (!has || Object.values(current).every(isText))) {
    const area = h("textarea", { rows: 3, value: has ? Object.entries(current).map(([k, v]) => `${k}: ${v}`).join("\n") : "" });
    const read = () => {
      const out = {};
      for (const line of area.value.split("\n")) {
        if (!line.trim()) continue;
        const at = line.indexOf(":");
        if (at < 1) throw new Error(`${humanize(info.name)}: write each line as "Name: value"`);
        out[line.slice(0, at).trim()] = line.slice(at + 1).trim();
      }
      return Object.keys(out).length ? out : undefined;
    };
    return { input: area, hint: 'One "Name: value" per line.', read };
  }
  if (node.type === "string" && (!has || typeof current === "string")) {
    const secret = node.writeOnly || node.format === "password";
    const input = h("input", { type: secret ? "password" : "text", required, minlength: node.minLength, maxlength: node.maxLength,
      placeholder: info.default ?? "", autocomplete: secret ? "new-password" : "off", value: has && !secret ? current : "" });
    return { input, read: () => (input.value === "" ? undefined : input.value) };
  }
  // Anything else (nested objects, {"envKey": NAME} references): JSON.
  const area = h("textarea", { rows: 3, required, class: "mono", value: has ? JSON.stringify(current) : "" });
  const read = () => {
    if (!area.value.trim()) return undefined;
    try { return JSON.parse(area.value); } catch (_) { throw new Error(`${humanize(info.name)}: not valid JSON`); }
  };
  return { input: area, hint: "JSON.", read };
}

// One field per property of a params schema (a kind's, a job block's), and a reader of the params given.
function schemaFields(schema, current) {
  const readers = [];
  const elements = Object.entries(schema.properties || {}).map(([name, prop]) => {
    const info = describe(schema, name, prop);
    const control = schemaControl(info, (current || {})[name]);
    control.input.name = `param-${name}`;
    readers.push([name, control.read]);
    const label = humanize(name, prop.title) + (info.required ? " (required)" : "");
    const hint = [info.description, control.hint].filter(Boolean).join(" ");
    return field(label, control.input, hint);
  });
  const read = () => {
    const params = {};
    for (const [name, reader] of readers) {
      const value = reader();
      if (value !== undefined) params[name] = value;
    }
    return params;
  };
  return { elements, read };
}

// The connection fieldset of a kind: returns the element and a reader of its params.
function paramsFieldset(kind, current) {
  const schema = kind.paramsSchema || {};
  const { elements, read } = schemaFields(schema, current);
  const element = h("fieldset", {}, h("legend", { text: "Connection" }),
    schema.description && !kind.description ? h("p", { class: "hint", text: schema.description }) : null,
    elements.length ? elements : h("p", { class: "hint", text: "This kind takes no parameters." }));
  return { element, read };
}

// ---------------------------------------------------------------------------------------
// Data sources

// Short names of the state codes (the README's table); the reason says the rest.
const STATES = {
  "001": "Needs configuration", "002": "Not tested", 100: "Healthy", 301: "Bad credentials", 302: "Permission denied",
  303: "Bucket or path missing", 304: "Unreachable", 305: "Timed out", 306: "TLS failure", 307: "Secret expired",
  308: "Endpoint refused", 309: "Check failed",
};

function stateBadge(source) {
  const st = source.state;
  const cls = st.healthy ? "badge ok" : ["001", "002"].includes(st.code) ? "badge idle" : "badge bad";
  return h("span", { class: cls, text: STATES[st.code] || `State ${st.code}` });
}

// The hub writes a failed state's reason as "<its title>: <what happened>" (and 001's as "Requires
// configuration. Missing: ..."); next to the badge, which already names the state, only the rest is shown.
function reasonText(st) {
  const reason = (st.reason || "").trim();
  const titled = /^[A-Z][A-Za-z ]{2,40}[:.]\s+(.+)$/s.exec(reason);
  if (titled && (/^3\d\d$/.test(st.code) || st.code === "001")) return titled[1];
  return reason;
}

function stateReason(source) {
  const st = source.state;
  const text = st.healthy || st.code === "002" ? "" : reasonText(st);
  return text ? h("span", { class: "reason", text }) : null;
}

// The "New data source" menu: the kinds people connect most first, grouped; kinds a job makes for itself last.
const KIND_GROUPS = [
  ["Object storage", ["s3", "aws", "gcp", "storj"]],
  ["Databases", ["postgres", "mysql"]],
  ["Files", ["url", "local"]],
  ["For jobs and trials", ["synthetic", "bucket", "file", "bypass"]],
];

function kindGroups(available) {
  const placed = new Set();
  const groups = KIND_GROUPS.map(([group, names]) => {
    const members = names.map((name) => kindOf(available, name)).filter(Boolean);
    members.forEach((k) => placed.add(k.kind));
    return [group, members];
  });
  groups.push(["Other", available.filter((k) => !placed.has(k.kind))]);
  return groups.filter(([, members]) => members.length);
}

async function renderSources() {
  const [list, allKinds] = await Promise.all([api("GET", "/v1/sources"), kinds()]);
  const available = allKinds.filter((k) => !k.adminOnly || state.me.admin);
  const menu = h("details", { class: "menu" },
    h("summary", { class: "button", text: "New data source" }),
    h("div", { class: "menu-list" }, kindGroups(available).map(([group, members]) => [
      h("p", { class: "menu-group", text: group }),
      h("ul", { role: "list", "aria-label": group }, members.map((k) => h("li", {}, h("a", { href: `#/sources/new?kind=${enc(k.kind)}`, text: k.title }, h("small", { text: k.kind }))))),
    ])));
  const rows = list.sources.map((s) => {
    const result = h("span", { class: "test-result", "aria-live": "polite" });
    const testButton = h("button", { type: "button", class: "secondary small", text: "Test", "aria-label": `Test ${connOf(s)}`,
      onclick: () => runTest(s, testButton, result, () => renderSources()) });
    return [
      h("a", { href: `#/sources/${enc(s.id)}`, text: s.address, class: "mono" }),
      (kindOf(allKinds, s.protocol) || { title: s.protocol }).title,
      s.access === "read-write" ? "Read and write" : "Read only",
      h("span", { class: "state-cell" }, stateBadge(s), stateReason(s), result),
      timeEl(s.state.checkedAt),
      h("span", { class: "row-actions" }, testButton,
        s.capabilities.input ? h("a", { href: `#/browse/${enc(connOf(s))}/`, class: "button secondary small", text: "Browse", "aria-label": `Browse ${connOf(s)}` }) : null),
    ];
  });
  page("Data sources",
    h("div", { class: "toolbar" }, menu),
    table("Data sources", ["Address", "Kind", "Access", "State", "Last checked", "Actions"], rows, "No data sources yet: add one with New data source."));
}

async function runTest(source, button, output, after) {
  button.disabled = true;
  const label = button.textContent;
  button.textContent = "Testing…";
  output.textContent = "";
  try {
    const tested = await api("POST", `/v1/sources/${enc(source.id)}/test`);
    const latency = tested.state.latencyMs === null || tested.state.latencyMs === undefined ? "" : ` in ${Math.round(tested.state.latencyMs)} ms`;
    const title = STATES[tested.state.code] || `State ${tested.state.code}`;
    const text = tested.state.healthy ? `Healthy${latency}` : `Failed (${tested.state.code}): ${title}: ${reasonText(tested.state)}${latency}`;
    flash.set(`${tested.address} — ${text}`, !tested.state.healthy);
    await after(tested);
  } catch (err) {
    output.textContent = ` ${err.message}`;
  } finally {
    button.disabled = false;
    button.textContent = label;
  }
}

const LABEL_RULE = "A label is 1 to 63 characters: lowercase letters (a-z), digits, hyphens and underscores, starting with a letter or a digit; it is unique among the sources of its kind.";

function sourceForm({ kind, source, secrets, onSubmit, submitText }) {
  const editing = Boolean(source);
  const label = h("input", { type: "text", name: "label", required: true, value: editing ? source.label : "", pattern: "[a-z0-9][a-z0-9_\\-]{0,62}", maxlength: 63, autocomplete: "off", spellcheck: "false" });
  // The browser's own message for a pattern ("match the requested format") does not say what the format is.
  const checkLabel = () => label.setCustomValidity(label.validity.patternMismatch ? LABEL_RULE : "");
  label.addEventListener("input", checkLabel);
  label.addEventListener("invalid", checkLabel);
  const name = h("input", { type: "text", name: "name", value: editing ? source.name : "" });
  const description = h("textarea", { name: "description", rows: 2, value: editing ? source.description : "" });
  const params = paramsFieldset(kind, editing ? source.params : {});
  const restrictions = h("textarea", { name: "pathRestrictions", rows: 3, class: "mono",
    value: editing && !(source.pathRestrictions.length === 1 && source.pathRestrictions[0] === "*") ? source.pathRestrictions.join("\n") : "" });
  const write = h("input", { type: "checkbox", name: "writeAccess", checked: editing && source.access === "read-write" });

  // Credentials: none, an existing secret of a fitting type, or a new one created alongside.
  let credentials = null;
  let readCredentials = () => ({ secretId: editing ? source.secretId : null, newSecret: null });
  if (kind.credentials !== "none") {
    const fitting = secrets.filter((s) => !kind.secretTypes.length || kind.secretTypes.includes(s.secretType) || (editing && s.id === source.secretId));
    const choice = h("select", { name: "secret" },
      kind.credentials === "optional" ? h("option", { value: "", text: "No credentials (anonymous)", selected: editing && !source.secretId }) : null,
      fitting.map((s) => h("option", { value: `existing:${s.id}`, text: `Secret ${s.id} (${s.secretType}${s.accessKey ? `, ${s.accessKey}` : ""})${s.expired ? " — expired" : ""}`, selected: editing && source.secretId === s.id })),
      h("option", { value: "new", text: "New secret…", selected: !editing }));
    const accessKey = h("input", { type: "text", name: "accessKey", autocomplete: "off", spellcheck: "false" });
    const secretKey = h("input", { type: "password", name: "secretKey", autocomplete: "new-password" });
    const expires = h("input", { type: "datetime-local", name: "secretExpiresAt" });
    const newBox = h("div", { class: "subfields" },
      field("Access key", accessKey, "The readable half of the key pair (an access key id, a user name)."),
      field("Secret key", secretKey, "Write-only: stored encrypted, never shown again."),
      field("Secret expires", expires, "Optional. An expired secret cannot be used."));
    const sync = () => { newBox.hidden = choice.value !== "new"; };
    choice.addEventListener("change", sync);
    sync();
    credentials = h("fieldset", {}, h("legend", { text: "Credentials" }), field("Secret", choice, `Secret types that fit: ${kind.secretTypes.join(", ") || "any"}.`), newBox);
    readCredentials = () => {
      if (choice.value === "new") {
        if (!secretKey.value && !accessKey.value) throw new Error("Credentials: give an access key and a secret key, or choose another option");
        return { secretId: null, newSecret: { accessKey: accessKey.value || null, secretKey: secretKey.value || null, expiresAt: expires.value ? new Date(expires.value).toISOString() : null, secretType: kind.secretTypes[0] || "generic" } };
      }
      return { secretId: choice.value ? choice.value.slice("existing:".length) : null, newSecret: null };
    };
  }

  const error = errorBox();
  const submit = h("button", { type: "submit", text: submitText });
  const form = h("form", { class: "panel", "aria-label": submitText },
    h("fieldset", {}, h("legend", { text: "Identity" }),
      field("Label (required)", label, `${LABEL_RULE} It names the source in addresses: ${kind.kind}+label://path.`),
      field("Name", name),
      field("Description", description)),
    params.element,
    credentials,
    h("fieldset", {}, h("legend", { text: "Access" }),
      field("Path restrictions", restrictions, "One pattern per line: bucket/team.jpg is one file, bucket/* everything in a folder, bucket* every path starting so. Empty: everything."),
      field("Write access", write, "Also allows uploads, new folders and deletes within the paths above. Without it the connection is read-only.")),
    error,
    h("div", { class: "actions" }, submit, h("a", { href: editing ? `#/sources/${enc(source.id)}` : "#/sources", class: "button secondary", text: "Cancel" })));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    submit.disabled = true;
    try {
      const lines = restrictions.value.split("\n").map((s) => s.trim()).filter(Boolean);
      const body = {
        label: label.value.trim(),
        name: name.value.trim() || null,
        description: description.value,
        params: params.read(),
        pathRestrictions: lines.length ? lines : null,
        access: write.checked ? "read-write" : "read",
      };
      await onSubmit(body, readCredentials());
      form.reset();
    } catch (err) {
      showError(error, err);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

// Create the new secret (if any), then the source; undo the secret if the source is refused.
async function withNewSecret(protocol, label, creds, use) {
  if (!creds.newSecret) return use(creds.secretId);
  const id = `${protocol}-${label}-${Math.random().toString(36).slice(2, 8)}`;
  await api("POST", "/v1/secrets", { id, name: `${protocol}+${label}`, ...creds.newSecret });
  try {
    return await use(id);
  } catch (err) {
    await api("DELETE", `/v1/secrets/${enc(id)}`).catch(() => {});
    throw err;
  }
}

async function renderNewSource(params) {
  const allKinds = await kinds();
  const kind = kindOf(allKinds, params.get("kind"));
  if (!kind) { location.hash = "#/sources"; return; }
  const secrets = kind.credentials === "none" ? [] : (await api("GET", "/v1/secrets")).secrets;
  const form = sourceForm({
    kind, secrets, submitText: "Create data source",
    onSubmit: async (body, creds) => {
      const created = await withNewSecret(kind.kind, body.label, creds, (secretId) =>
        api("POST", "/v1/sources", { protocol: kind.kind, ...body, secretId }));
      flash.set(`Created ${created.address}. Test it to check the connection.`);
      location.hash = `#/sources/${enc(created.id)}`;
    },
  });
  page(`New data source: ${kind.title}`, h("p", { class: "lead", text: kind.description }), form);
}

async function renderEditSource(id) {
  const [source, allKinds] = await Promise.all([api("GET", `/v1/sources/${enc(id)}`), kinds()]);
  const kind = kindOf(allKinds, source.protocol);
  const secrets = kind.credentials === "none" ? [] : (await api("GET", "/v1/secrets")).secrets;
  const form = sourceForm({
    kind, source, secrets, submitText: "Save changes",
    onSubmit: async (body, creds) => {
      // Send only what changed: a connection change resets the source's state.
      const changed = (secretId) => Object.fromEntries(Object.entries({ ...body, secretId }).filter(([key, value]) =>
        JSON.stringify(value ?? null) !== JSON.stringify(key === "pathRestrictions" && value === null ? ["*"] : source[key] ?? null)));
      const saved = await withNewSecret(kind.kind, body.label, creds, (secretId) =>
        api("PATCH", `/v1/sources/${enc(id)}`, changed(secretId)));
      flash.set(`Saved ${saved.address}.`);
      location.hash = `#/sources/${enc(id)}`;
    },
  });
  page(`Edit ${source.address}`, form);
}

function describeList(pairs) {
  return h("dl", { class: "facts" }, pairs.filter(Boolean).map(([term, value]) => [h("dt", { text: term }), h("dd", {}, value)]));
}

async function renderSource(id) {
  const [source, allKinds] = await Promise.all([api("GET", `/v1/sources/${enc(id)}`), kinds()]);
  const kind = kindOf(allKinds, source.protocol) || { title: source.protocol };
  const st = source.state;
  const result = h("span", { class: "test-result", "aria-live": "polite" });
  const testButton = h("button", { type: "button", text: "Test connection", onclick: () => runTest(source, testButton, result, () => renderSource(id)) });
  const remove = h("button", { type: "button", class: "danger", text: "Delete",
    onclick: async () => {
      if (!(await confirmAction(`Delete the data source ${source.address}? Its data is not touched; the connection is removed.`))) return;
      try {
        await api("DELETE", `/v1/sources/${enc(id)}`);
        flash.set(`Deleted ${source.address}.`);
        location.hash = "#/sources";
      } catch (err) { showError(error, err); }
    } });
  const error = errorBox();
  const params = Object.entries(source.params);
  page(source.address,
    h("section", { class: "panel state", "aria-label": "State" },
      h("p", {}, stateBadge(source), " ", h("span", { class: "muted" }, `code ${st.code}`)),
      stateReason(source) ? h("p", {}, stateReason(source)) : null,
      describeList([
        ["Last checked", timeEl(st.checkedAt)],
        st.latencyMs !== null && st.latencyMs !== undefined ? ["Latency", `${Math.round(st.latencyMs)} ms`] : null,
      ]),
      h("div", { class: "actions" }, testButton, result)),
    describeList([
      ["Kind", `${kind.title} (${source.protocol})`],
      ["Label", source.label],
      ["Name", source.name || "—"],
      source.description ? ["Description", source.description] : null,
      ["Access", source.access === "read-write" ? "Read and write" : "Read only"],
      ["Path restrictions", h("ul", { class: "plain mono" }, source.pathRestrictions.map((p) => h("li", { text: p === "*" ? "* (everything)" : p })))],
      ["Secret", source.secretId ? h("a", { href: "#/secrets", text: source.secretId }) : "none"],
      ["Parameters", params.length ? h("dl", { class: "facts inner mono" }, params.map(([k, v]) => [h("dt", { text: k }), h("dd", { text: typeof v === "string" ? v : JSON.stringify(v) })])) : "none"],
      ["Created", timeEl(source.createdAt)],
    ]),
    error,
    h("div", { class: "actions" },
      source.capabilities.input ? h("a", { href: `#/browse/${enc(connOf(source))}/`, class: "button secondary", text: "Browse" }) : null,
      h("a", { href: `#/sources/${enc(id)}/edit`, class: "button secondary", text: "Edit" }),
      remove));
}

// ---------------------------------------------------------------------------------------
// Secrets

const SECRET_TYPES = ["s3", "aws", "gcp", "storj", "http", "database", "generic", "other"];

async function renderSecrets() {
  const list = (await api("GET", "/v1/secrets")).secrets;
  const error = errorBox();
  const rows = list.map((s) => [
    h("span", { class: "mono", text: s.id }),
    s.name || "—",
    s.secretType,
    s.accessKey ? h("span", { class: "mono", text: s.accessKey }) : "—",
    s.valueKeys.length ? s.valueKeys.join(", ") : "none",
    s.expiresAt ? h("span", {}, timeEl(s.expiresAt), s.expired ? h("span", { class: "badge bad", text: "Expired" }) : null) : "never",
    h("span", { class: "row-actions" },
      h("a", { href: `#/secrets/${enc(s.id)}`, class: "button secondary small", text: "Replace", "aria-label": `Replace secret ${s.id}` }),
      h("button", { type: "button", class: "danger small", text: "Delete", "aria-label": `Delete secret ${s.id}`,
        onclick: async () => {
          if (!(await confirmAction(`Delete the secret ${s.id}? Sources that use it must be changed first.`))) return;
          try { await api("DELETE", `/v1/secrets/${enc(s.id)}`); flash.set(`Deleted secret ${s.id}.`); renderSecrets(); } catch (err) { showError(error, err); }
        } })),
  ]);
  page("Secrets",
    h("p", { class: "lead", text: "Credentials for data sources. Values are write-only: the hub never shows them again, here or anywhere." }),
    error,
    table("Secrets", ["ID", "Name", "Type", "Access key", "Stored values", "Expires", "Actions"], rows, "No secrets yet."),
    secretForm(null));
}

function secretForm(existing) {
  const id = h("input", { type: "text", name: "id", required: true, autocomplete: "off", spellcheck: "false" });
  const name = h("input", { type: "text", name: "name", value: existing ? existing.name || "" : "" });
  const type = h("select", { name: "secretType" }, SECRET_TYPES.map((t) => h("option", { value: t, text: t, selected: existing ? existing.secretType === t : t === "s3" })));
  const accessKey = h("input", { type: "text", name: "accessKey", autocomplete: "off", spellcheck: "false", value: existing ? existing.accessKey || "" : "" });
  const secretKey = h("input", { type: "password", name: "secretKey", autocomplete: "new-password", required: !existing });
  const expires = h("input", { type: "datetime-local", name: "expiresAt" });
  const clearExpiry = h("input", { type: "checkbox", name: "clearExpiry" });
  const error = errorBox();
  const submit = h("button", { type: "submit", text: existing ? "Replace secret" : "Create secret" });
  const form = h("form", { class: "panel", "aria-label": existing ? "Replace secret" : "New secret" },
    existing ? null : h("h2", { text: "New secret" }),
    existing ? null : field("ID (required)", id, "Your name for it, unique in the organization; sources refer to it."),
    field("Name", name),
    field("Type", type),
    field("Access key", accessKey, "Readable: an access key id or user name."),
    field(existing ? "New secret key" : "Secret key (required)", secretKey, existing ? "Replaces the stored value; leave empty to keep it." : "Write-only: stored encrypted, never shown again."),
    field("Expires", expires, existing && existing.expiresAt ? `Now: ${fmtTime(existing.expiresAt)}. Leave empty to keep.` : "Optional."),
    existing && existing.expiresAt ? field("Remove the expiry", clearExpiry) : null,
    error,
    h("div", { class: "actions" }, submit, existing ? h("a", { href: "#/secrets", class: "button secondary", text: "Cancel" }) : null));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    submit.disabled = true;
    const body = { name: name.value.trim() || null, secretType: type.value, accessKey: accessKey.value || null };
    if (secretKey.value) body.secretKey = secretKey.value;
    if (expires.value) body.expiresAt = new Date(expires.value).toISOString();
    else if (clearExpiry.checked) body.expiresAt = null;
    const secretId = existing ? existing.id : id.value.trim();
    try {
      if (existing) await api("PATCH", `/v1/secrets/${enc(secretId)}`, body);
      else await api("POST", "/v1/secrets", { id: secretId, ...body });
      form.reset();
      flash.set(existing ? `Replaced secret ${secretId}.` : `Created secret ${secretId}.`);
      if (existing) location.hash = "#/secrets"; else renderSecrets();
    } catch (err) {
      showError(error, err);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

async function renderSecret(id) {
  const secret = await api("GET", `/v1/secrets/${enc(id)}`);
  page(`Replace secret ${secret.id}`,
    secret.expired ? h("p", { class: "error", text: "This secret has expired: sources using it fail until it is replaced." }) : null,
    secretForm(secret));
}

// ---------------------------------------------------------------------------------------
// Access keys: S3 key ids and secrets for S3 tools on the hub's S3 port, narrowed like tokens

function keyLimits(k) {
  const parts = [];
  if (k.sourceIds) parts.push(`sources: ${k.sourceIds.join(", ") || "none"}`);
  if (k.pathPrefix) parts.push(`under ${k.pathPrefix}`);
  return parts.length ? parts.join("; ") : "everything its user may reach";
}

async function renderAccessKeys(shown = null) {
  const list = (await api("GET", "/v1/access-keys")).accessKeys;
  const error = errorBox();
  const rows = list.map((k) => [
    h("span", { class: "mono", text: k.accessKeyId }),
    k.name || "—",
    k.readOnly ? h("span", { class: "badge idle", text: "Read-only" }) : "Read-write",
    keyLimits(k),
    timeEl(k.expiresAt),
    timeEl(k.lastUsedAt),
    h("span", { class: "row-actions" },
      h("button", { type: "button", class: "danger small", text: "Revoke", "aria-label": `Revoke access key ${k.accessKeyId}`,
        onclick: async () => {
          if (!(await confirmAction(`Revoke the access key ${k.accessKeyId}? Tools using it are refused at once.`, "Revoke"))) return;
          try { await api("DELETE", `/v1/access-keys/${enc(k.accessKeyId)}`); flash.set(`Revoked access key ${k.accessKeyId}.`); renderAccessKeys(); } catch (err) { showError(error, err); }
        } })),
  ]);
  page("Access keys",
    h("p", { class: "lead", text: "Key ids and secrets for S3 tools (AWS CLI, boto3, rclone, DuckDB) on the hub's S3 port. A key reaches what your token reaches, or less." }),
    shown ? newKeyPanel(shown) : null,
    error,
    table("Access keys", ["Key id", "Name", "Access", "Limited to", "Expires", "Last used", "Actions"], rows, "No access keys yet."),
    accessKeyForm());
}

// The one time a key's secret is on a page: gone on the next render.
function newKeyPanel(key) {
  const exports = `export AWS_ACCESS_KEY_ID=${key.accessKeyId}\nexport AWS_SECRET_ACCESS_KEY=${key.secretAccessKey}`;
  return h("section", { class: "panel", "aria-labelledby": "new-key-title" },
    h("h2", { id: "new-key-title", text: `New access key ${key.accessKeyId}` }),
    h("p", { class: "error", role: "alert", text: "Copy the secret now: it is shown this once and never again." }),
    describeList([
      ["Access key id", h("span", { class: "mono", text: key.accessKeyId })],
      ["Secret access key", h("span", { class: "mono", id: "new-key-secret", text: key.secretAccessKey })],
      ["For a shell", h("pre", { class: "mono exports", text: exports })],
    ]),
    h("div", { class: "actions" }, h("button", { type: "button", class: "secondary", text: "Done", onclick: () => renderAccessKeys() })));
}

function accessKeyForm() {
  const name = h("input", { type: "text", name: "name", autocomplete: "off" });
  const readOnly = h("input", { type: "checkbox", name: "readOnly", checked: state.me.readOnly, disabled: state.me.readOnly });
  const prefix = h("input", { type: "text", name: "pathPrefix", autocomplete: "off", spellcheck: "false", placeholder: "s3+lake://bucket/team/" });
  const expires = h("select", { name: "expiresIn" },
    [["", "Never (or when your token does)"], ["1h", "In an hour"], ["1d", "In a day"], ["1w", "In a week"], ["30d", "In 30 days"], ["90d", "In 90 days"]]
      .map(([value, text]) => h("option", { value, text })));
  const error = errorBox();
  const submit = h("button", { type: "submit", text: "Create access key" });
  const form = h("form", { class: "panel", "aria-label": "New access key" },
    h("h2", { text: "New access key" }),
    field("Name", name, "Optional: what the key is for."),
    field("Read-only", readOnly),
    field("Address prefix", prefix, state.me.pathPrefix ? `Optional: under your token's ${state.me.pathPrefix}.` : "Optional: limit the key to one connection or folder."),
    field("Expires", expires),
    error,
    h("div", { class: "actions" }, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    submit.disabled = true;
    const body = { name: name.value.trim() || null, readOnly: readOnly.checked };
    if (prefix.value.trim()) body.pathPrefix = prefix.value.trim();
    if (expires.value) body.expiresIn = expires.value;
    try {
      const key = await api("POST", "/v1/access-keys", body);
      await renderAccessKeys(key);
    } catch (err) {
      showError(error, err);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

// ---------------------------------------------------------------------------------------
// Browse

// The organization's hosted storage, data://<org>/, has no data source: everyone in the organization
// may browse it, unless a token is narrowed to sources without a data:// prefix.
const HOSTED = "data";
const hostedVisible = () => !state.me.sourceIds || (state.me.pathPrefix || "").startsWith("data://");
const browseHref = (conn, path) => `#/browse/${enc(conn)}/${path.split("/").map(enc).join("/")}`;

async function renderBrowseRoot() {
  const list = (await api("GET", "/v1/sources")).sources.filter((s) => s.capabilities.input);
  const tiles = list.map((s) => h("li", {},
    h("a", { href: `#/browse/${enc(connOf(s))}/`, class: "mono", text: s.address }),
    h("span", { class: "muted", text: s.access === "read-write" ? " read and write" : " read only" })));
  if (hostedVisible()) {
    tiles.unshift(h("li", {},
      h("a", { href: browseHref(HOSTED, `${state.me.organization}/`), class: "mono", text: `data://${state.me.organization}/` }),
      h("span", { class: "muted", text: " hosted storage of your organization" })));
  }
  page("Browse", tiles.length ? h("ul", { class: "tiles", role: "list" }, tiles) : h("p", { class: "empty", text: "No data sources to browse yet." }));
}

// Breadcrumbs from the connection's root to here; the last one (here) is not a link.
function crumbs(conn, path) {
  const parts = path.split("/").filter(Boolean);
  const root = `${conn}://`;
  const items = [h("li", {}, parts.length ? h("a", { href: `#/browse/${enc(conn)}/`, text: root }) : h("span", { "aria-current": "page", text: root }))];
  parts.forEach((part, i) => {
    const target = parts.slice(0, i + 1).map(enc).join("/");
    const last = i === parts.length - 1;
    items.push(h("li", {}, last ? h("span", { "aria-current": "page", text: part }) : h("a", { href: `#/browse/${enc(conn)}/${target}/`, text: part })));
  });
  return h("nav", { "aria-label": "Path", class: "crumbs" }, h("ol", {}, items));
}

async function sourceByConn(conn) {
  if (conn === HOSTED) return { hosted: true, access: "read-write", capabilities: { input: true, output: true } };
  const [protocol, label] = conn.split("+");
  const found = (await api("GET", `/v1/sources?protocol=${enc(protocol)}`)).sources.find((s) => s.label === (label || "default"));
  if (!found) throw new ApiError(404, "not_found", `no data source ${conn}`);
  return found;
}

const canWrite = (source) => source.access === "read-write" && source.capabilities.output && !state.me.readOnly;

async function renderBrowse(conn, path, params) {
  const source = await sourceByConn(conn);
  if (path && !path.endsWith("/")) {
    const head = await api("HEAD", dataUrl(conn, path), undefined, { raw: true });
    if (head.headers.get("X-Data-Type") !== "directory") return renderFile(source, conn, path, head.headers);
    path += "/";
  }
  const marker = params.get("marker");
  const listing = await api("GET", dataUrl(conn, path) + (marker ? `?marker=${enc(marker)}` : ""));
  const writable = canWrite(source);
  const error = errorBox();
  const here = (name) => `${path}${name}`;
  const removeButton = (name, isDir) => writable ? h("button", { type: "button", class: "danger small", text: "Delete", "aria-label": `Delete ${name}`,
    onclick: async () => {
      const what = isDir ? `the folder ${name} and everything in it` : `the file ${name}`;
      if (!(await confirmAction(`Delete ${what} from ${conn}://${path}?`))) return;
      try {
        await api("DELETE", dataUrl(conn, here(name)) + (isDir ? "?force=true" : ""));
        flash.set(`Deleted ${here(name)}.`);
        route();
      } catch (err) { showError(error, err); }
    } }) : null;
  const rows = [
    ...listing.folders.map((f) => [
      h("a", { href: `#/browse/${enc(conn)}/${here(f.name).split("/").map(enc).join("/")}/`, class: "folder", text: `${f.name}/` }), "—", "—",
      h("span", { class: "row-actions" }, removeButton(f.name, true)),
    ]),
    ...listing.files.map(({ filename: name, size, last_modified: modified }) => [
      h("a", { href: `#/browse/${enc(conn)}/${here(name).split("/").map(enc).join("/")}`, class: "file", text: name }),
      h("span", { title: `${size} bytes`, text: fmtSize(size) }),
      timeEl(modified),
      h("span", { class: "row-actions" },
        h("a", { href: dataUrl(conn, here(name)), download: name, class: "button secondary small", text: "Download", "aria-label": `Download ${name}` }),
        removeButton(name, false)),
    ]),
  ];
  const pager = h("div", { class: "actions" },
    marker ? h("a", { href: `#/browse/${enc(conn)}/${path.split("/").map(enc).join("/")}`, class: "button secondary", text: "First page" }) : null,
    listing.marker ? h("a", { href: `#/browse/${enc(conn)}/${path.split("/").map(enc).join("/")}?marker=${enc(listing.marker)}`, class: "button secondary", text: "Next page" }) : null);
  page(path ? path.split("/").filter(Boolean).pop() + "/" : `${conn}://`,
    crumbs(conn, path),
    writable ? uploadPanel(conn, path) : h("p", { class: "notice", text: "This connection is read-only: uploads, new folders and deletes are refused." }),
    error,
    table(`Contents of ${conn}://${path}`, ["Name", "Size", "Modified", "Actions"], rows, "This folder is empty."),
    pager);
}

function uploadPanel(conn, path) {
  const files = h("input", { type: "file", name: "files", multiple: true });
  const progress = h("progress", { max: 100, value: 0, hidden: true });
  const progressText = h("span", { class: "muted", "aria-live": "polite" });
  const error = errorBox();
  const upload = h("button", { type: "submit", text: "Upload" });
  const uploadForm = h("form", { class: "inline", "aria-label": "Upload files" },
    field("Files to upload", files), h("div", { class: "actions" }, upload, progress, progressText), error);
  uploadForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    if (!files.files.length) { showError(error, "Choose one or more files first."); return; }
    upload.disabled = true;
    progress.hidden = false;
    try {
      for (const file of Array.from(files.files)) {
        await putFile(dataUrl(conn, `${path}${file.name}`), file, (fraction) => {
          progress.value = Math.round(fraction * 100);
          progressText.textContent = `${file.name}: ${progress.value}%`;
        });
      }
      flash.set(`Uploaded ${Array.from(files.files).map((f) => f.name).join(", ")}.`);
      route();
    } catch (err) {
      showError(error, err);
    } finally {
      upload.disabled = false;
    }
  });

  const folder = h("input", { type: "text", name: "folder", required: true, autocomplete: "off" });
  const folderError = errorBox();
  const folderForm = h("form", { class: "inline", "aria-label": "New folder" },
    field("Folder name", folder), h("div", { class: "actions" }, h("button", { type: "submit", class: "secondary", text: "Create folder" })), folderError);
  folderForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    folderError.hidden = true;
    try {
      await api("POST", dataUrl(conn, path), { name: folder.value.trim() });
      flash.set(`Created folder ${folder.value.trim()}.`);
      route();
    } catch (err) { showError(folderError, err); }
  });
  return h("section", { class: "panel tools", "aria-label": "Upload" }, uploadForm, folderForm);
}

// An upload through XMLHttpRequest, whose upload events give the progress bar its values.
function putFile(url, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url);
    xhr.setRequestHeader("X-CSRF-Token", csrfToken());
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.upload.addEventListener("progress", (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); });
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) { onProgress(1); resolve(); return; }
      let message = xhr.getResponseHeader("X-Error-Message") || `upload failed with ${xhr.status}`;
      try { message = JSON.parse(xhr.responseText).error.message || message; } catch (_) { /* keep */ }
      reject(new ApiError(xhr.status, "error", `${file.name}: ${message}`));
    });
    xhr.addEventListener("error", () => reject(new Error(`${file.name}: the upload did not reach the hub`)));
    xhr.send(file);
  });
}

// Database and synthetic kinds serve a table NAME as NAME.csv, NAME.jsonl and NAME.parquet,
// and describe it (its columns) in a small JSON file NAME. Any other kind simply has no such file.
async function tableOf(conn, path) {
  const stem = path.replace(/\.(csv|jsonl|parquet)$/, "");
  try {
    const head = stem === path ? null : await api("HEAD", dataUrl(conn, stem), undefined, { raw: true });
    const headers = head ? head.headers : null;
    if (headers && (!(headers.get("Content-Type") || "").startsWith("application/json") || Number(headers.get("Content-Length") || 0) > 262144)) return null;
    const body = await api("GET", dataUrl(conn, stem));
    return body && Array.isArray(body.columns) ? { stem, columns: body.columns } : null;
  } catch (_) {
    return null;
  }
}

// RFC 4180 CSV, enough for a preview.
function parseCsv(text) {
  const rows = [];
  let row = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i += 1; } else if (c === '"') quoted = false; else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") { row.push(cell); cell = ""; }
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i += 1;
      row.push(cell); rows.push(row); row = []; cell = "";
    } else cell += c;
  }
  if (cell || row.length) { row.push(cell); rows.push(row); }
  return rows;
}

async function renderFile(source, conn, path, headers) {
  const name = path.split("/").pop();
  const dir = path.slice(0, path.length - name.length);
  const json = (headers.get("Content-Type") || "").startsWith("application/json");
  // A table's files are generated as they are read: their HEAD has no size (or 0).
  const generated = !Number(headers.get("Content-Length") || 0);
  const tableFile = /\.(csv|jsonl|parquet)$/.test(name) && generated;
  const described = tableFile || (json && Number(headers.get("Content-Length") || 0) <= 262144) ? await tableOf(conn, path) : null;
  const size = described && generated ? null : headers.get("Content-Length");
  const error = errorBox();
  const remove = canWrite(source) ? h("button", { type: "button", class: "danger", text: "Delete",
    onclick: async () => {
      if (!(await confirmAction(`Delete the file ${conn}://${path}?`))) return;
      try { await api("DELETE", dataUrl(conn, path)); flash.set(`Deleted ${path}.`); location.hash = `#/browse/${enc(conn)}/${dir.split("/").map(enc).join("/")}`; } catch (err) { showError(error, err); }
    } }) : null;
  const preview = h("section", { "aria-label": "First rows" });
  page(name,
    crumbs(conn, path),
    describeList([
      ["Address", h("span", { class: "mono", text: `${conn}://${path}` })],
      size !== null ? ["Size", `${fmtSize(Number(size))} (${size} bytes)`] : null,
      headers.get("Content-Type") ? ["Type", headers.get("Content-Type")] : null,
      headers.get("Last-Modified") ? ["Modified", fmtTime(headers.get("Last-Modified"))] : null,
      headers.get("ETag") ? ["ETag", h("span", { class: "mono", text: headers.get("ETag") })] : null,
    ]),
    error,
    h("div", { class: "actions" }, h("a", { href: dataUrl(conn, path), download: name, class: "button", text: "Download" }), remove),
    described ? h("section", { "aria-label": "Columns" }, h("h2", { text: "Columns" }),
      table("Columns", ["Column", "Type", "Nullable"], described.columns.map((c) => [h("span", { class: "mono", text: c.name }), c.type || c.kind || "—", c.nullable ? "yes" : "no"]), "No columns.")) : null,
    preview);
  if (described) {
    try {
      const response = await api("GET", `${dataUrl(conn, `${described.stem}.csv`)}?limit=20`, undefined, { raw: true, headers: { Accept: "text/csv" } });
      const rows = parseCsv(await response.text()).slice(0, 21);
      preview.replaceChildren(h("h2", { text: "First rows" }),
        rows.length > 1 ? table("First rows", rows[0], rows.slice(1), "", "data") : h("p", { class: "empty", text: "The table is empty." }));
    } catch (err) {
      preview.replaceChildren(h("h2", { text: "First rows" }), h("p", { class: "muted", text: `No preview: ${err.message}` }));
    }
  }
}

// ---------------------------------------------------------------------------------------
// Audit and jobs

const AUDIT_FILTERS = [
  ["source", "Source", "text", "id or connection: s3+lake"],
  ["user", "User", "text", ""],
  ["pathPrefix", "Path prefix", "text", "bucket/dir/"],
  ["operation", "Operation", "text", "data.read, data.write…"],
  ["since", "Since", "datetime-local", ""],
  ["until", "Until", "datetime-local", ""],
];

// Long addresses may wrap after a "/" (never inside a word).
function breakable(text) {
  return String(text).split(/(?<=\/)/).flatMap((piece, i) => (i ? [h("wbr"), piece] : [piece]));
}

function shortTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function stamp(iso) {
  return iso ? h("time", { datetime: iso, class: "stamp", title: fmtTime(iso), text: shortTime(iso) }) : h("span", { text: "—" });
}

const AUDIT_PAGE = 25;
const OUTCOME_CLASS = { allowed: "ok", refused: "bad", invalid: "idle", failed: "bad" };

// What an event's details hold: the reason first, then how the request was made.
function auditFacts(e) {
  return describeList([
    e.reason ? ["Reason", e.reason] : null,
    ["Request", h("span", { class: "mono" }, `${e.method} `, breakable(e.route))],
    e.client ? ["Client", e.client] : null,
    e.durationMs !== null && e.durationMs !== undefined ? ["Duration", `${Math.round(e.durationMs)} ms`] : null,
    ["Bytes in / out", `${fmtSize(e.bytesIn || 0)} / ${fmtSize(e.bytesOut || 0)}`],
    ["Request id", h("span", { class: "mono", text: e.requestId })],
  ]);
}

// One row per event, and below it a row of details (the reason first) that opens on demand.
function auditTable(events) {
  if (!events.length) return h("p", { class: "empty", text: "No events match." });
  const headers = ["Time", "User", "Operation", "Target", "Outcome", "In / out", "Details"];
  const cell = (name, cls, ...content) => h("td", { "data-label": name, class: cls }, ...content);
  const body = events.flatMap((e) => {
    const moreId = nextId("event");
    const more = h("tr", { id: moreId, class: "event-more", hidden: true }, h("td", { colspan: headers.length }, auditFacts(e)));
    const toggle = h("button", { type: "button", class: "link", "aria-expanded": "false", "aria-controls": moreId,
      text: e.reason ? "Why" : "More", "aria-label": `${e.reason ? "Why" : "More"}: ${e.operation} ${shortTime(e.time)}` });
    toggle.addEventListener("click", () => {
      more.hidden = !more.hidden;
      toggle.setAttribute("aria-expanded", String(!more.hidden));
    });
    const target = [e.connection, e.path].filter((x) => x !== null && x !== undefined && x !== "").join("://") || e.route;
    return [h("tr", { class: "event" },
      cell("Time", "c-time", stamp(e.time)),
      cell("User", "c-user", e.user || "—"),
      cell("Operation", "c-op", h("span", { class: "mono nowrap", text: e.operation })),
      cell("Target", "c-target", h("span", { class: "mono" }, breakable(target))),
      cell("Outcome", "c-outcome", h("span", { class: "nowrap" }, h("span", { class: `badge ${OUTCOME_CLASS[e.outcome] || "idle"}`, text: e.outcome }),
        e.status === null || e.status === undefined ? "" : ` ${e.status}`)),
      cell("In / out", "c-bytes", h("span", { class: "nowrap" }, e.bytesIn || e.bytesOut ? `${fmtSize(e.bytesIn)} / ${fmtSize(e.bytesOut)}` : "—")),
      cell("Details", "c-more", toggle)), more];
  });
  return h("div", { class: "table-wrap" },
    h("table", { class: "audit" },
      h("caption", { class: "visually-hidden", text: "Audit events" }),
      h("thead", {}, h("tr", {}, headers.map((name) => h("th", { scope: "col", text: name })))),
      h("tbody", {}, body)));
}

// Pages: "#/audit" is the newest page; "older=<id>" the page below an event, "newer=<id>" the page above one.
// One event more than a page is asked for, to know whether there is another page that way.
async function auditPage(params) {
  const query = new URLSearchParams();
  for (const key of ["source", "user", "pathPrefix", "operation", "outcome", "since", "until"]) if (params.get(key)) query.set(key, params.get(key));
  query.set("limit", String(AUDIT_PAGE + 1));
  if (params.get("newer")) {
    const above = new URLSearchParams(query);
    above.set("after", params.get("newer"));
    const body = await api("GET", `/v1/audit?${above}`);
    // No more than a page above: that is the newest page, shown below.
    if (body.events.length > AUDIT_PAGE) return { events: body.events.slice(0, AUDIT_PAGE).reverse(), newer: true, older: true };
  }
  query.set("order", "desc");
  const older = params.get("newer") ? null : params.get("older");
  if (older) query.set("after", older);
  const body = await api("GET", `/v1/audit?${query}`);
  return { events: body.events.slice(0, AUDIT_PAGE), newer: Boolean(older), older: body.events.length > AUDIT_PAGE };
}

async function renderAudit(params) {
  const inputs = {};
  const filters = AUDIT_FILTERS.map(([key, label, type, example]) => {
    let value = params.get(key) || "";
    if (type === "datetime-local" && value) value = toLocalInput(value);
    inputs[key] = h("input", { type, name: key, value, placeholder: example || null });
    return field(label, inputs[key]);
  });
  inputs.outcome = h("select", { name: "outcome" }, ["", "allowed", "refused", "invalid", "failed"].map((o) => h("option", { value: o, text: o || "any", selected: params.get("outcome") === o })));
  const active = Object.keys(inputs).filter((key) => params.get(key)).length;
  const form = h("form", { class: "filters", "aria-label": "Filters" }, filters, field("Outcome", inputs.outcome),
    h("div", { class: "actions" }, h("button", { type: "submit", text: "Apply filters" }), h("a", { href: "#/audit", class: "button secondary", text: "Clear" })));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const query = new URLSearchParams();
    for (const [key, input] of Object.entries(inputs)) {
      if (!input.value) continue;
      query.set(key, input.type === "datetime-local" ? new Date(input.value).toISOString() : input.value);
    }
    location.hash = `#/audit?${query}`;
  });
  const wide = window.matchMedia("(min-width: 721px)").matches;
  const filterBox = h("details", { class: "panel filter-box", open: active > 0 || wide },
    h("summary", { text: active ? `Filters (${active} in use)` : "Filters" }), form);

  const error = errorBox();
  let found = { events: [], newer: false, older: false };
  try { found = await auditPage(params); } catch (err) { showError(error, err); }
  const link = (key, id, text, rel) => {
    const p = new URLSearchParams(params);
    p.delete("older"); p.delete("newer");
    if (key) p.set(key, String(id));
    return h("a", { href: `#/audit?${p}`, class: "button secondary", text, rel });
  };
  const events = found.events;
  const pager = h("nav", { class: "actions pager", "aria-label": "Pages" },
    found.newer ? link(null, null, "Newest") : null,
    found.newer && events.length ? link("newer", events[0].id, "← Newer", "prev") : null,
    found.older && events.length ? link("older", events[events.length - 1].id, "Older →", "next") : null,
    h("span", { class: "muted", text: events.length ? `${events.length} ${events.length === 1 ? "event" : "events"}, newest first` : "" }));
  page("Audit", filterBox, error,
    auditTable(found.events),
    pager);
}

function toLocalInput(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// -- Jobs -------------------------------------------------------------------------------

const JOB_PAGE = 25;
const ACTIVE_JOB = ["ready", "partitioning", "running", "assembling"];
const jobClass = (state) => ({ complete: "ok", failed: "bad", canceled: "bad" }[state] || "idle");
const jobBadge = (state) => h("span", { class: `badge ${jobClass(state)}`, text: state });
const jobTitle = (j) => j.name || `Job ${j.id.slice(0, 8)}`;

// A native address as the connection and path the Data API serves it under (null for anything else).
function addressParts(address) {
  const match = /^([A-Za-z][A-Za-z0-9]*(?:\+[^:/]+)?):\/\/(.*)$/.exec(address || "");
  if (!match) return null;
  const scheme = match[1].toLowerCase();
  return { conn: scheme.includes("+") || scheme === HOSTED ? scheme : `${scheme}+default`, path: match[2] };
}

// An address as a link into the file browser (a job's source may be a glob: its folder is linked).
function addressLink(address) {
  const parts = addressParts(address);
  if (!parts) return h("span", { class: "mono" }, breakable(address || "—"));
  let { path } = parts;
  if (/[*?[]/.test(path)) path = path.slice(0, path.slice(0, path.search(/[*?[]/)).lastIndexOf("/") + 1);
  return h("a", { href: browseHref(parts.conn, path), class: "mono" }, breakable(address));
}

// A result is downloaded by its signed link (an output-only destination) or through the Data API.
function resultLinks(r) {
  const parts = addressParts(r.address);
  const download = r.link || (parts ? dataUrl(parts.conn, parts.path) : null);
  const name = r.name.split("/").pop();
  return h("span", { class: "row-actions" },
    download ? h("a", { href: download, download: name, class: "button secondary small", text: "Download", "aria-label": `Download ${r.name}` }) : null,
    parts && !r.link ? h("a", { href: browseHref(parts.conn, parts.path), class: "button secondary small", text: "Open", "aria-label": `Open ${r.name}` }) : null);
}

function progressOf(j, withBar = true) {
  const p = j.progress || {};
  const total = p.partitionsTotal || 0;
  const done = p.partitionsDone || 0;
  const words = total ? `${done} of ${total} ${total === 1 ? "partition" : "partitions"}` : j.state === "new" ? "not started" : "no partitions yet";
  const extra = [p.partitionsRunning ? `${p.partitionsRunning} running` : "", p.partitionsFailed ? `${p.partitionsFailed} failed` : ""].filter(Boolean).join(", ");
  return h("span", { class: "progress-cell" },
    withBar ? h("progress", { max: Math.max(total, 1), value: total ? done : j.state === "complete" ? 1 : 0, "aria-label": `Progress of ${jobTitle(j)}` }) : null,
    h("span", { text: extra ? `${words} (${extra})` : words }));
}

async function renderJobs(params) {
  const offset = Math.max(0, Number(params.get("offset")) || 0);
  const jobs = (await api("GET", `/v1/jobs?limit=${JOB_PAGE + 1}&offset=${offset}`)).jobs || [];
  const more = jobs.length > JOB_PAGE;
  const rows = jobs.slice(0, JOB_PAGE).map((j) => [
    h("a", { href: `#/jobs/${enc(j.id)}`, class: "mono", text: jobTitle(j) }),
    jobBadge(j.state),
    h("span", { class: "mono" }, breakable(j.source), " → ", breakable(j.destination)),
    progressOf(j),
    stamp(j.createdAt),
    j.errorMessage ? h("span", { class: "reason clip", title: j.errorMessage, text: j.errorMessage }) : "—",
  ]);
  page("Jobs",
    h("p", { class: "lead", text: "A job reads a data source, runs an app over its partitions and writes the outputs to a destination." }),
    state.me.readOnly ? null : h("div", { class: "toolbar" }, h("a", { href: "#/jobs/new", class: "button", text: "New job" })),
    table("Jobs", ["Job", "State", "Source → destination", "Progress", "Created", "Error"], rows, "No jobs yet."),
    h("nav", { class: "actions pager", "aria-label": "Pages" },
      offset ? h("a", { href: `#/jobs?offset=${Math.max(0, offset - JOB_PAGE)}`, class: "button secondary", text: "← Newer", rel: "prev" }) : null,
      more ? h("a", { href: `#/jobs?offset=${offset + JOB_PAGE}`, class: "button secondary", text: "Older →", rel: "next" }) : null));
}

function paramsList(params) {
  const entries = Object.entries(params || {});
  if (!entries.length) return null;
  return h("dl", { class: "facts inner mono" }, entries.map(([k, v]) => [h("dt", { text: k }), h("dd", { text: typeof v === "string" ? v : JSON.stringify(v) })]));
}

let jobTimer = null;

async function renderJob(id) {
  clearTimeout(jobTimer);
  const here = location.hash;
  const job = await api("GET", `/v1/jobs/${enc(id)}`);
  const [logs, results] = await Promise.all([
    api("GET", `/v1/jobs/${enc(id)}/logs?limit=500`).then((b) => b.logs).catch(() => []),
    job.state === "complete" ? api("GET", `/v1/jobs/${enc(id)}/results`).then((b) => b.results) : Promise.resolve(null),
  ]);
  const error = errorBox();
  const act = (text, cls, method, path, done, confirmText) => h("button", { type: "button", class: cls, text,
    onclick: async () => {
      if (confirmText && !(await confirmAction(confirmText, text))) return;
      try {
        await api(method, path);
        flash.set(done);
        if (method === "DELETE") location.hash = "#/jobs"; else renderJob(id);
      } catch (err) { showError(error, err); }
    } });
  const p = job.progress;
  const pending = Math.max(0, p.partitionsTotal - p.partitionsDone - p.partitionsFailed - p.partitionsRunning);
  // The job's own error is in its state panel; each partition's is listed (without repeating its number).
  const problems = logs.filter((l) => (l.level === "error" || l.level === "warning") && l.partition !== null && l.partition !== undefined)
    .map((l) => ({ ...l, message: l.message.replace(new RegExp(`^partition ${l.partition} failed: `), "") }));
  const stateSince = (job.stateTimestamps || {})[job.state];
  page(jobTitle(job),
    h("section", { class: "panel state", "aria-label": "State" },
      h("p", {}, jobBadge(job.state), " ", h("span", { class: "muted" }, stateSince ? ["since ", stamp(stateSince)] : "")),
      job.errorMessage ? h("p", { class: "error", text: job.errorMessage }) : null,
      h("div", { class: "job-progress" }, progressOf(job)),
      describeList([
        ["Partitions", `${p.partitionsDone} done, ${p.partitionsRunning} running, ${p.partitionsFailed} failed, ${pending} waiting`],
        ["Read / written", `${fmtSize(p.bytesIn)} / ${fmtSize(p.bytesOut)}`],
      ]),
      state.me.readOnly ? null : h("div", { class: "actions" },
        job.state === "new" ? act("Run", "", "POST", `/v1/jobs/${enc(id)}/run`, "The job is running.") : null,
        ACTIVE_JOB.includes(job.state) ? act("Cancel job", "danger", "POST", `/v1/jobs/${enc(id)}/cancel`, "Canceled the job.", "Cancel this job? Its outputs are removed.") : null,
        ACTIVE_JOB.includes(job.state) ? null : act("Delete", "danger", "DELETE", `/v1/jobs/${enc(id)}`, `Deleted ${jobTitle(job)}.`, `Delete the job ${jobTitle(job)}?`),
        h("button", { type: "button", class: "secondary", text: "Refresh", onclick: () => renderJob(id) }))),
    error,
    results ? h("section", { "aria-label": "Results" }, h("h2", { text: "Results" }),
      table("Results", ["Output", "Size", "Links"], results.map((r) => [
        h("span", { class: "mono" }, breakable(r.name)),
        r.size === null || r.size === undefined ? "—" : fmtSize(r.size),
        resultLinks(r),
      ]), "The job wrote no outputs.")) : null,
    h("section", { "aria-label": "Job" }, h("h2", { text: "Job" }),
      describeList([
        ["ID", h("span", { class: "mono", text: job.id })],
        job.description ? ["Description", job.description] : null,
        ["Source", addressLink(job.source)],
        ["Destination", addressLink(job.destination)],
        ["App", [job.app, paramsList(job.params.app)]],
        ["Partitioner", [job.partitioner, paramsList(job.params.partitioner)]],
        ["Assembler", [job.assembler, paramsList(job.params.assembler)]],
        ["Created", stamp(job.createdAt)],
        job.settledAt ? ["Settled", stamp(job.settledAt)] : null,
        ["States", h("ol", { class: "plain" }, Object.entries(job.stateTimestamps || {}).map(([name, at]) => h("li", {}, h("span", { class: "nowrap", text: `${name} ` }), stamp(at))))],
      ])),
    problems.length ? h("section", { "aria-label": "Errors" }, h("h2", { text: "Errors" }),
      table("Errors of partitions", ["Partition", "Level", "Message"], problems.map((l) => [String(l.partition),
        h("span", { class: `badge ${l.level === "error" ? "bad" : "idle"}`, text: l.level }), l.message]), "")) : null,
    h("section", { "aria-label": "Log" }, h("h2", { text: "Log" }),
      logs.length ? h("details", { class: "log", open: logs.length <= 20 },
        h("summary", { text: `${logs.length} log lines` }),
        table("Log", ["Time", "Level", "Partition", "Message"], logs.map((l) => [stamp(l.time), l.level,
          l.partition === null || l.partition === undefined ? "—" : String(l.partition), l.message]), "", "cards log-table"))
        : h("p", { class: "empty", text: "Nothing logged yet." })),
    h("p", {}, h("a", { href: "#/jobs", text: "All jobs" })));
  if (ACTIVE_JOB.includes(job.state)) {
    jobTimer = setTimeout(() => { if (location.hash === here && !document.querySelector("dialog[open]")) renderJob(id).catch(() => {}); }, 2000);
  }
}

// A form for each block's params, from the JSON schema the catalog serves.
function blockChooser(kind, blocks, chosen) {
  const select = h("select", { name: kind }, blocks.map((b) => h("option", { value: b.name, text: `${b.title} (${b.name})`, selected: b.name === chosen })));
  const hintId = nextId("hint");
  select.setAttribute("aria-describedby", hintId);
  const hint = h("small", { id: hintId, class: "hint" });
  const holder = h("div", { class: "subfields" });
  let read = () => ({});
  const sync = () => {
    const block = blocks.find((b) => b.name === select.value);
    hint.textContent = block.description;
    const fields = schemaFields(block.paramsSchema, {});
    holder.replaceChildren(...present([fields.elements.length ? fields.elements : null]));
    holder.hidden = !fields.elements.length;
    read = fields.read;
  };
  select.addEventListener("change", sync);
  if (!select.id) select.id = nextId("f");
  const element = h("div", { class: "block" },
    h("div", { class: "field" }, h("label", { for: select.id, text: humanize(kind) }), hint, select), holder);
  sync();
  return { element, name: () => select.value, read: () => read() };
}

// The request schema's description of an address, for a text field (which takes no dataSource object).
const addressHint = (description) => `${(description || "").replace(/,? or a dataSource object\.?$/, "")}.`;

async function renderNewJob() {
  const [catalog, list] = await Promise.all([api("GET", "/v1/jobs/catalog"), api("GET", "/v1/sources")]);
  const request = catalog.requestSchema.properties;
  const roots = (want) => list.sources.filter((s) => s.capabilities[want]).map((s) => `${connOf(s)}://`);
  const datalist = (id, values) => h("datalist", { id }, values.map((v) => h("option", { value: v })));
  const sourceInput = h("input", { type: "text", name: "source", required: true, list: "job-sources", class: "mono", autocomplete: "off", spellcheck: "false", maxlength: request.source.maxLength || 2048 });
  const destinationInput = h("input", { type: "text", name: "destination", required: true, list: "job-destinations", class: "mono", autocomplete: "off", spellcheck: "false" });
  const name = h("input", { type: "text", name: "name", maxlength: 255 });
  const description = h("textarea", { name: "description", rows: 2 });
  const run = h("input", { type: "checkbox", name: "run", checked: true });
  const app = blockChooser("app", catalog.apps, request.app.default);
  const partitioner = blockChooser("partitioner", catalog.partitioners, request.partitioner.default);
  const assembler = blockChooser("assembler", catalog.assemblers, request.assembler.default);
  const error = errorBox();
  const submit = h("button", { type: "submit", text: "Create job" });
  const hosted = hostedVisible() ? [`data://${state.me.organization}/`] : [];
  const form = h("form", { class: "panel", "aria-label": "New job" },
    h("fieldset", {}, h("legend", { text: "Data" }),
      field("Source (required)", sourceInput, `${addressHint(request.source.description)} Your sources: ${[...roots("input"), ...hosted].join(", ") || "none yet"}.`),
      datalist("job-sources", [...roots("input"), ...hosted]),
      field("Destination (required)", destinationInput, `${addressHint(request.destination.description)} Writable: ${[...roots("output"), ...hosted].join(", ") || "none yet"}.`),
      datalist("job-destinations", [...roots("output"), ...hosted])),
    h("fieldset", {}, h("legend", { text: "Work" }), app.element, partitioner.element, assembler.element),
    h("fieldset", {}, h("legend", { text: "About" }),
      field("Job name", name), field("Description", description),
      field("Run it now", run, "Otherwise the job waits, new, until you run it.")),
    error,
    h("div", { class: "actions" }, submit, h("a", { href: "#/jobs", class: "button secondary", text: "Cancel" })));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    submit.disabled = true;
    try {
      const body = {
        source: sourceInput.value.trim(), destination: destinationInput.value.trim(),
        app: app.name(), partitioner: partitioner.name(), assembler: assembler.name(),
        params: { app: app.read(), partitioner: partitioner.read(), assembler: assembler.read() },
        name: name.value.trim(), description: description.value, run: run.checked,
      };
      const created = await api("POST", "/v1/jobs", body);
      flash.set(`Created ${jobTitle(created)}${body.run ? " and started it" : ""}.`);
      location.hash = `#/jobs/${enc(created.id)}`;
    } catch (err) {
      showError(error, err);
    } finally {
      submit.disabled = false;
    }
  });
  page("New job", h("p", { class: "lead", text: "Read a source, run an app over its partitions, write the outputs to a destination." }), form);
}

// ---------------------------------------------------------------------------------------
// Routing: #/sources, #/sources/new?kind=, #/sources/{id}[/edit], #/secrets[/{id}], #/keys,
// #/browse[/{conn}/{path}], #/audit?filters[&older=|&newer=], #/jobs[?offset=], #/jobs/new, #/jobs/{id}

async function route() {
  if (!state.me) return renderSignIn();
  const hash = location.hash.replace(/^#\/?/, "") || "sources";
  const [pathPart, query = ""] = hash.split("?");
  const params = new URLSearchParams(query);
  const parts = pathPart.split("/");
  const at = (i) => decodeURIComponent(parts[i] || "");
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.getAttribute("href") === `#/${parts[0]}`) link.setAttribute("aria-current", "page"); else link.removeAttribute("aria-current");
  }
  try {
    if (parts[0] === "sources" && parts[1] === "new") return await renderNewSource(params);
    if (parts[0] === "sources" && parts[1] && parts[2] === "edit") return await renderEditSource(at(1));
    if (parts[0] === "sources" && parts[1]) return await renderSource(at(1));
    if (parts[0] === "secrets" && parts[1]) return await renderSecret(at(1));
    if (parts[0] === "secrets") return await renderSecrets();
    if (parts[0] === "keys") return await renderAccessKeys();
    if (parts[0] === "browse" && parts[1]) return await renderBrowse(at(1), parts.slice(2).map(decodeURIComponent).join("/"), params);
    if (parts[0] === "browse") return await renderBrowseRoot();
    if (parts[0] === "audit") return await renderAudit(params);
    if (parts[0] === "jobs" && state.jobs && parts[1] === "new") return await renderNewJob();
    if (parts[0] === "jobs" && state.jobs && parts[1]) return await renderJob(at(1));
    if (parts[0] === "jobs" && state.jobs) return await renderJobs(params);
    return await renderSources();
  } catch (err) {
    if (!state.me) return undefined;
    const box = errorBox();
    showError(box, err);
    page("Something went wrong", box, h("p", {}, h("a", { href: "#/sources", text: "Back to data sources" })));
  }
  return undefined;
}

async function start() {
  document.getElementById("sign-out").addEventListener("click", signOut);
  window.addEventListener("hashchange", route);
  try {
    signedIn(await api("GET", "/v1/me"));
    await detectJobs();
    route();
  } catch (_) {
    signedOut();
  }
}

start();
