// opg explorer: one page, routed by the URL's fragment (#/block/12). Every figure comes
// from this node's JSON-RPC (POST /) and its event stream (/events); docs/explorer.md.
"use strict";

const main = document.getElementById("main");
const live = document.getElementById("live");
let network = { chainId: 0, epochBlocks: 100, modules: [] };
let head = null;
let rpcId = 0;

// ---- JSON-RPC -------------------------------------------------------------------------

class RPCError extends Error {
  constructor(error) { super(error.message); this.code = error.code; }
}

async function post(body) {
  const response = await fetch("/", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  if (!response.ok) throw new Error("HTTP " + response.status + " from the node");
  return response.json();
}

async function rpc(method, ...params) {
  const answer = await post({ jsonrpc: "2.0", id: ++rpcId, method, params });
  if (answer.error) throw new RPCError(answer.error);
  return answer.result;
}

// Many calls in one batch (at most 1,000 per batch, the node's limit); each element is a
// result or an RPCError.
async function batch(calls) {
  const out = [];
  for (let start = 0; start < calls.length; start += 1000) {
    const chunk = calls.slice(start, start + 1000).map(([method, ...params]) => ({ jsonrpc: "2.0", id: ++rpcId, method, params }));
    if (chunk.length === 0) continue;
    const answers = await post(chunk);
    const byId = new Map(answers.map(a => [a.id, a]));
    for (const request of chunk) {
      const a = byId.get(request.id);
      out.push(!a ? new RPCError({ code: -32603, message: "no answer" }) : a.error ? new RPCError(a.error) : a.result);
    }
  }
  return out;
}

const missingMethod = e => e instanceof RPCError && e.code === -32601;

// ---- formatting -----------------------------------------------------------------------

function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v; else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const num = q => (q === null || q === undefined ? null : Number(BigInt(q)));
const hex = n => "0x" + BigInt(n).toString(16);
const short = s => (s && s.length > 20 ? s.slice(0, 10) + "…" + s.slice(-8) : s);
const link = (href, text, field) => h("a", { href, "data-field": field }, text);
const blockLink = n => link("#/block/" + num(n), String(num(n)));
const txLink = hash => h("a", { href: "#/tx/" + hash, class: "mono", title: hash }, short(hash));
const addressLink = a => (a ? h("a", { href: "#/address/" + a, class: "mono", title: a }, moduleName(a) || short(a)) : "—");
const modelLink = id => h("a", { href: "#/model/" + id, class: "mono", title: id }, short(id));

function moduleName(address) {
  const m = network.modules.find(m => m.address.toLowerCase() === String(address).toLowerCase());
  return m ? m.name : null;
}

// wei → "1.5 OPG", exactly (BigInt), trailing zeros dropped.
function opg(wei) {
  const v = BigInt(wei);
  const whole = v / 10n ** 18n, frac = (v % 10n ** 18n).toString().padStart(18, "0").replace(/0+$/, "");
  return whole.toString() + (frac ? "." + frac : "") + " OPG";
}

function time(seconds) {
  return new Date(num(seconds) * 1000).toISOString().replace(".000Z", "Z").replace("T", " ");
}

// A definition list of [label, value, field] rows; `field` names the value for tests and tools.
function facts(rows) {
  return h("dl", {}, rows.filter(Boolean).map(([label, value, field]) => [h("dt", {}, label), h("dd", { "data-field": field }, value)]));
}

function table(headers, rows, id) {
  return h("div", { class: "table", tabindex: "0", role: "region", "aria-label": id || headers.join(", ") },
    h("table", { id }, h("thead", {}, h("tr", {}, headers.map(x => h("th", { scope: "col" }, x)))),
      h("tbody", {}, rows.length ? rows.map(r => h("tr", {}, r.map(c => h("td", {}, c))))
        : h("tr", {}, h("td", { colspan: headers.length }, "none")))));
}

function pager(prevHref, nextHref) {
  return h("div", { class: "pager" }, prevHref ? link(prevHref, "← Newer", "newer") : null, nextHref ? link(nextHref, "Older →", "older") : null);
}

function show(title, ...content) {
  document.title = title + " · opg explorer";
  main.replaceChildren(h("h1", {}, title), ...content.flat(Infinity).filter(c => c !== null && c !== undefined && c !== false));
}

const note = text => h("p", { class: "note" }, text);

// ---- pages ----------------------------------------------------------------------------

async function overview() {
  const headNumber = num(await rpc("eth_blockNumber"));
  const numbers = [];
  for (let n = headNumber; n >= 0 && numbers.length < 10; n--) numbers.push(n);
  const [blocks, pool, models, operators] = await Promise.all([
    batch(numbers.map(n => ["eth_getBlockByNumber", hex(n), true])),
    rpc("txpool_status").catch(() => null),
    rpc("opg_listModels", null, hex(100)).catch(() => ({ items: [] })),
    rpc("opg_listOperators", { limit: hex(100) }).catch(() => ({ items: [] })),
  ]);
  const txs = blocks.flatMap(b => (b instanceof Error ? [] : b.transactions)).slice(0, 10);
  show("Overview",
    h("div", { class: "cards" },
      h("div", { class: "card" }, "Head block", h("b", { "data-field": "head" }, String(headNumber))),
      h("div", { class: "card" }, "Epoch", h("b", { "data-field": "epoch" }, String(Math.floor(headNumber / network.epochBlocks)))),
      h("div", { class: "card" }, "Chain id", h("b", { "data-field": "chainId" }, String(network.chainId))),
      h("div", { class: "card" }, "Pending transactions", h("b", { "data-field": "pending" }, pool ? String(num(pool.pending)) : "—")),
      h("div", { class: "card" }, "Models", h("b", { "data-field": "models" }, String(models.items.length) + (models.nextCursor ? "+" : ""))),
      h("div", { class: "card" }, "Operators", h("b", { "data-field": "operators" }, String(operators.items.length) + (operators.nextCursor ? "+" : "")))),
    h("h2", {}, "Latest blocks"),
    table(["Block", "Time (UTC)", "Transactions", "Gas used"], blocks.filter(b => !(b instanceof Error)).map(b =>
      [blockLink(b.number), time(b.timestamp), String(b.transactions.length), String(num(b.gasUsed))]), "latest-blocks"),
    h("h2", {}, "Latest transactions"),
    table(["Hash", "Block", "From", "To", "Value"], txs.map(t =>
      [txLink(t.hash), blockLink(t.blockNumber), addressLink(t.from), addressLink(t.to), opg(t.value)]), "latest-transactions"));
}

async function blocks(params) {
  const headNumber = num(await rpc("eth_blockNumber"));
  const top = Math.min(headNumber, params.get("before") !== null ? Number(params.get("before")) : headNumber);
  const numbers = [];
  for (let n = top; n >= 0 && numbers.length < 25; n--) numbers.push(n);
  const list = await batch(numbers.map(n => ["eth_getBlockByNumber", hex(n), false]));
  const last = numbers[numbers.length - 1];
  show("Blocks",
    table(["Block", "Time (UTC)", "Transactions", "Gas used", "Proposer", "Hash"], list.filter(b => !(b instanceof Error)).map(b =>
      [blockLink(b.number), time(b.timestamp), String(b.transactions.length), String(num(b.gasUsed)), addressLink(b.miner), h("span", { class: "mono" }, short(b.hash))]), "blocks"),
    pager(top < headNumber ? "#/blocks?before=" + Math.min(headNumber, top + 25) : null, last > 0 ? "#/blocks?before=" + (last - 1) : null));
}

async function block(id) {
  const b = /^0x[0-9a-fA-F]{64}$/.test(id) ? await rpc("eth_getBlockByHash", id, true) : await rpc("eth_getBlockByNumber", hex(id), true);
  if (!b) return show("Block " + id, note("This node has no block " + id + "."));
  const n = num(b.number);
  show("Block " + n,
    facts([["Number", String(n), "number"], ["Hash", b.hash, "hash"], ["Parent", n > 0 ? link("#/block/" + (n - 1), b.parentHash) : b.parentHash, "parentHash"],
      ["Time (UTC)", time(b.timestamp), "timestamp"], ["Epoch", String(Math.floor(n / network.epochBlocks)), "epoch"],
      ["Proposer", addressLink(b.miner), "miner"], ["Transactions", String(b.transactions.length), "transactionCount"],
      ["Gas used / limit", num(b.gasUsed) + " / " + num(b.gasLimit), "gas"], ["Base fee", String(num(b.baseFeePerGas)) + " wei", "baseFee"],
      ["State root", b.stateRoot, "stateRoot"], ["Validators hash", b.validatorsHash || "—", "validatorsHash"]]),
    h("div", { class: "pager" }, n > 0 ? link("#/block/" + (n - 1), "← Block " + (n - 1), "previous") : null,
      head !== null && n < head ? link("#/block/" + (n + 1), "Block " + (n + 1) + " →", "next") : null),
    h("h2", {}, "Transactions"),
    table(["#", "Hash", "From", "To", "Value", "Call"], b.transactions.map(t =>
      [String(num(t.transactionIndex)), txLink(t.hash), addressLink(t.from), addressLink(t.to), opg(t.value), t.input.length > 2 ? t.input.slice(0, 10) : "transfer"]), "block-transactions"));
}

// A decoded value as text: objects and arrays as compact JSON, long hex cut in the middle.
function valueText(v) {
  const text = typeof v === "string" ? v : JSON.stringify(v);
  return text.length > 200 ? text.slice(0, 96) + "… (" + text.length + " characters) …" + text.slice(-32) : text;
}

function argumentsTable(args, id) {
  return table(["Argument", "Value"], Object.entries(args || {}).map(([k, v]) => [k, h("span", { class: "mono" }, valueText(v))]), id);
}

async function transaction(hash) {
  const [t, r, decoded] = await batch([["eth_getTransactionByHash", hash], ["eth_getTransactionReceipt", hash], ["opg_decodeTransaction", hash]]);
  if (t instanceof Error || !t) return show("Transaction", note("This node has no transaction " + hash + " (it may still be in the pool)."));
  const call = decoded && !(decoded instanceof Error) ? decoded.call : null;
  const events = decoded && !(decoded instanceof Error) ? decoded.events : [];
  const inferences = events.filter(e => e && e.event === "ModelInferenceEvent").map(e => e.arguments.inferenceID);
  show("Transaction",
    facts([["Hash", t.hash, "hash"], ["Status", r ? h("span", { class: num(r.status) === 1 ? "ok" : "bad" }, num(r.status) === 1 ? "success" : "failed") : "pending", "status"],
      ["Block", t.blockNumber ? blockLink(t.blockNumber) : "pending", "blockNumber"], ["Index", t.transactionIndex !== null ? String(num(t.transactionIndex)) : "—", "transactionIndex"],
      ["From", addressLink(t.from), "from"], ["To", addressLink(t.to), "to"], ["Value", opg(t.value), "value"], ["Nonce", String(num(t.nonce)), "nonce"],
      ["Gas limit", String(num(t.gas)), "gasLimit"], ["Gas used", r ? String(num(r.gasUsed)) : "—", "gasUsed"],
      ["Effective gas price", r ? num(r.effectiveGasPrice) + " wei" : "—", "effectiveGasPrice"], ["Type", String(num(t.type)), "type"]]),
    h("h2", {}, "Call"),
    call ? (call.error ? h("p", { class: "error", "data-field": "call" }, call.module + ": " + call.error)
      : [h("p", { "data-field": "call" }, h("b", {}, call.module + "." + call.function), " ", h("code", {}, call.signature)), argumentsTable(call.arguments, "call-arguments")])
      : h("p", { "data-field": "call" }, t.input === "0x" ? "Plain transfer (no input)." : "Input to an address that is no module: " + short(t.input)),
    h("h2", {}, "Events"),
    events.length === 0 ? h("p", {}, "No events.") : events.map((e, i) => {
      const raw = r.logs[i];
      if (!e) return h("div", {}, h("p", {}, "Log " + i + " from ", addressLink(raw.address), " (not a module)"));
      if (e.error) return h("p", { class: "error" }, "Log " + i + " (" + e.module + "): " + e.error);
      return h("div", { "data-event": e.event }, h("p", {}, "Log " + i + ": ", h("b", {}, e.module + "." + e.event)), argumentsTable(e.arguments));
    }),
    inferences.length ? [h("h2", {}, "Inferences"), h("ul", {}, inferences.map(id => h("li", {}, link("#/inference/" + id, id, "inference"))))] : null);
}

async function address(a) {
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  const cursor = params.get("cursor");
  const [balance, nonce, page, operator] = await batch([["eth_getBalance", a, "latest"], ["eth_getTransactionCount", a, "latest"],
    ["opg_getTransactionsByAddress", a, cursor, hex(25)], ["opg_getOperator", a]]);
  if (balance instanceof Error) return show("Address", h("p", { class: "error" }, balance.message));
  const txs = page instanceof Error ? [] : await batch(page.items.map(i => ["eth_getTransactionByHash", i.hash]));
  const module = moduleName(a);
  show(module ? module + " module" : "Address",
    facts([["Address", a, "address"], ["Balance", opg(balance), "balance"], ["Nonce", String(num(nonce)), "nonce"],
      module ? ["Module", module, "module"] : null]),
    operator instanceof Error ? null : [h("h2", {}, "Operator"), operatorFacts(operator)],
    h("h2", {}, "Transactions"),
    page instanceof Error ? h("p", { class: "error" }, page.message)
      : table(["Hash", "Block", "From", "To", "Value"], txs.filter(t => t && !(t instanceof Error)).map(t =>
        [txLink(t.hash), blockLink(t.blockNumber), addressLink(t.from), addressLink(t.to), opg(t.value)]), "address-transactions"),
    pager(cursor ? "#/address/" + a : null, page.nextCursor ? "#/address/" + a + "?cursor=" + page.nextCursor : null));
}

function operatorFacts(o) {
  return facts([["Role", o.role, "role"], ["Stake", opg(o.stake), "stake"], ["Power", String(o.power), "power"],
    ["Eligible from epoch", String(o.eligibleFromEpoch), "eligibleFromEpoch"], ["Attestations", String(o.attestations), "attestations"],
    ["Faults", String(o.faults), "faults"], ["Jailed", o.jailed ? "yes, until block " + o.jailReleaseBlock : "no", "jailed"],
    ["Tombstoned", o.tombstoned ? "yes" : "no", "tombstoned"], ["Unbonding", opg(o.unbonding), "unbonding"],
    ["Hardware class", o.hardwareClass || "—", "hardwareClass"], ["Models", o.models.length ? o.models.map(m => [modelLink(m), " "]) : "—", "models"],
    ["Registered at block", String(o.registeredAt), "registeredAt"]]);
}

async function models(params) {
  const cursor = params.get("cursor");
  const page = await rpc("opg_listModels", cursor, hex(50));
  show("Models",
    table(["Model id (CIDv0)", "Name", "Size (bytes)", "Owner", "Registered at", "MACs"], page.items.map(m =>
      [modelLink(m.cidV0), m.name, String(m.size), addressLink(m.owner), blockLink(m.registeredAt), String(m.cost.macs)]), "models"),
    pager(cursor ? "#/models" : null, page.nextCursor ? "#/models?cursor=" + page.nextCursor : null));
}

const tensors = list => list.map(t => t.name + ": " + t.elementType + "[" + t.shape.join(", ") + "]").join("; ");

async function model(id, params) {
  const cursor = params.get("cursor");
  const [m, calls] = await batch([["opg_getModel", id], ["opg_getInferencesByModel", id, cursor, hex(25)]]);
  if (m instanceof Error) return show("Model", h("p", { class: "error" }, m.message));
  show("Model " + (m.name || short(m.cidV0)),
    facts([["CIDv0", m.cidV0, "cidV0"], ["CIDv1", m.cidV1, "cidV1"], ["SHA-256", m.sha256, "sha256"], ["Name", m.name, "name"],
      ["Description", m.description, "description"], ["Owner", addressLink(m.owner), "owner"], ["Size", m.size + " bytes", "size"],
      ["Registered at block", blockLink(m.registeredAt), "registeredAt"], ["Kernel spec version", String(m.kernelSpecVersion), "kernelSpecVersion"],
      ["Inputs", tensors(m.inputs), "inputs"], ["Outputs", tensors(m.outputs), "outputs"],
      ["Cost", m.cost.macs + " MACs, " + m.cost.bytesMoved + " bytes moved, " + m.cost.peakBytes + " peak bytes", "cost"]]),
    h("h2", {}, "Calls"),
    calls instanceof Error ? h("p", { class: "error" }, calls.message)
      : [table(["Inference", "Block", "Caller", "Gas", "Transaction"], calls.items.map(c =>
        [link("#/inference/" + c.id, short(c.id)), blockLink(c.blockNumber), addressLink(c.caller), String(c.gas), txLink(c.transactionHash)]), "model-calls"),
      pager(cursor ? "#/model/" + id : null, calls.nextCursor ? "#/model/" + id + "?cursor=" + calls.nextCursor : null)]);
}

async function inference(id) {
  const r = await rpc("opg_getInference", id).catch(e => e);
  if (r instanceof Error) return show("Inference", h("p", { class: "error" }, r.message));
  const command = "opg inference verify --rpc " + location.origin + " " + r.transactionHash;
  show("Inference record",
    facts([["Id", r.id, "id"], ["Model", modelLink(r.modelId), "modelId"], ["Model SHA-256", r.modelSha256, "modelSha256"],
      ["Input hash", r.inputHash, "inputHash"], ["Output hash", r.outputHash, "outputHash"], ["Caller", addressLink(r.caller), "caller"],
      ["Block", blockLink(r.blockNumber), "blockNumber"], ["Transaction", txLink(r.transactionHash), "transactionHash"],
      ["Gas", String(r.gas), "gas"], ["Kernel spec version", String(r.kernelSpecVersion), "kernelSpecVersion"]]),
    h("h2", {}, "Re-check it yourself"),
    h("p", {}, "The record is in the inference precompile's storage (eth_getProof proves every field). ",
      "This command fetches the model, re-runs the recorded input with your own kernel and compares the output bit for bit:"),
    h("pre", { id: "verify-command", tabindex: "0" }, command),
    h("button", { type: "button", id: "copy-command" }, "Copy command"));
  document.getElementById("copy-command").addEventListener("click", event => {
    const done = () => { event.target.textContent = "Copied"; };
    if (navigator.clipboard) navigator.clipboard.writeText(command).then(done, () => { event.target.textContent = "Select the text above to copy"; });
  });
}

async function operators(params) {
  const role = params.get("role") || "";
  const cursor = params.get("cursor");
  const filter = { limit: hex(50) };
  if (role) filter.role = role;
  if (cursor) filter.cursor = cursor;
  const [page, validators] = await batch([["opg_listOperators", filter], ["opg_getValidators", "latest"]]);
  const select = h("select", { id: "role", "aria-label": "Role" }, ["", "provider", "verifier", "validator"].map(r =>
    h("option", { value: r, selected: r === role }, r || "every role")));
  select.addEventListener("change", () => { location.hash = "#/operators" + (select.value ? "?role=" + select.value : ""); });
  show("Operators",
    h("p", {}, h("label", { for: "role" }, "Show "), select),
    page instanceof Error ? h("p", { class: "error" }, page.message)
      : table(["Operator", "Role", "Stake", "Power", "Attestations", "Faults", "Jailed", "Models"], page.items.map(o =>
        [addressLink(o.address), o.role, opg(o.stake), String(o.power), String(o.attestations), String(o.faults),
          o.tombstoned ? "tombstoned" : o.jailed ? "until " + o.jailReleaseBlock : "no", String(o.models.length)]), "operators"),
    page.nextCursor ? pager(null, "#/operators?" + (role ? "role=" + role + "&" : "") + "cursor=" + page.nextCursor) : null,
    h("h2", {}, "Validator set at the head"),
    validators instanceof Error ? h("p", { class: "error" }, validators.message)
      : [h("p", {}, "Total power ", h("span", { "data-field": "totalPower" }, String(validators.totalPower))),
        table(["Validator", "Power", "Consensus key"], validators.validators.map(v =>
          [addressLink(v.address), String(v.power), h("span", { class: "mono" }, short(v.consensusKey))]), "validators")]);
}

// Jobs come from the Jobs module (opg_listJobs, opg_getJob); a node without it says so.
async function jobs(params) {
  const cursor = params.get("cursor");
  const page = await rpc("opg_listJobs", cursor ? { cursor, limit: hex(50) } : { limit: hex(50) }).catch(e => e);
  if (missingMethod(page)) return show("Jobs", note("This node has no Jobs module yet (opg_listJobs does not exist): jobs, their lifecycle and attestations appear here once it does."));
  if (page instanceof Error) return show("Jobs", h("p", { class: "error" }, page.message));
  const keys = page.items.length ? Object.keys(page.items[0]).filter(k => typeof page.items[0][k] !== "object") : ["id"];
  show("Jobs",
    table(keys, page.items.map(job => keys.map(k => k === "id" ? link("#/job/" + job.id, short(String(job.id))) : valueText(job[k]))), "jobs"),
    pager(cursor ? "#/jobs" : null, page.nextCursor ? "#/jobs?cursor=" + page.nextCursor : null));
}

async function job(id) {
  const j = await rpc("opg_getJob", id).catch(e => e);
  if (missingMethod(j)) return show("Job", note("This node has no Jobs module yet (opg_getJob does not exist)."));
  if (j instanceof Error) return show("Job", h("p", { class: "error" }, j.message));
  const timeline = Array.isArray(j.timeline) ? j.timeline : Array.isArray(j.events) ? j.events : [];
  show("Job " + short(String(id)),
    facts(Object.entries(j).filter(([, v]) => typeof v !== "object").map(([k, v]) => [k, valueText(v), k])),
    h("h2", {}, "Lifecycle"),
    timeline.length ? h("ol", { id: "timeline" }, timeline.map(step => h("li", {}, valueText(step)))) : h("p", {}, "No steps recorded."));
}

// ---- vital signs ----------------------------------------------------------------------

const charts = [];

function chart(id, label, labels, datasets) {
  const canvas = h("canvas", { id, role: "img", "aria-label": label });
  const box = h("div", { class: "chart" }, canvas);
  if (window.Chart) {
    charts.push(new window.Chart(canvas, { type: "bar", data: { labels, datasets }, options: { animation: false, maintainAspectRatio: false, scales: { y: { beginAtZero: true } } } }));
  }
  return box;
}

const topicOf = (module, event) => (network.modules.find(m => m.name === module) || { eventTopics: {} }).eventTopics[event];
const addressOf = module => (network.modules.find(m => m.name === module) || {}).address;

async function vitals() {
  charts.splice(0).forEach(c => c.destroy());
  const headNumber = num(await rpc("eth_blockNumber"));
  const epochs = 10, size = network.epochBlocks;
  const lastEpoch = Math.floor(headNumber / size);
  const firstEpoch = Math.max(0, lastEpoch - epochs + 1);
  // opg_inferenceStats spans at most 10,000 blocks; the counts below span the same range.
  const from = Math.max(firstEpoch * size, headNumber - 9999);
  const numbers = [];
  for (let n = from; n <= headNumber; n++) numbers.push(n);
  const staking = addressOf("Staking");
  const logQuery = event => ["eth_getLogs", { fromBlock: hex(from), toBlock: hex(headNumber), address: staking, topics: [topicOf("Staking", event)] }];
  const [stats, slashes, jails, attestations, verifiers, providers, progress] = await batch([
    ["opg_inferenceStats", hex(from), hex(headNumber)], logQuery("Slashed"), logQuery("Jailed"), logQuery("AttestationsRecorded"),
    ["opg_listOperators", { role: "verifier", limit: hex(100) }], ["opg_listOperators", { role: "provider", limit: hex(100) }],
    ["opg_verificationStats", hex(from), hex(headNumber)]]);
  const epochList = [];
  for (let e = firstEpoch; e <= lastEpoch; e++) epochList.push(e);
  const [counts, perEpoch] = await Promise.all([
    batch(numbers.map(n => ["eth_getBlockTransactionCountByNumber", hex(n)])),
    batch(epochList.map(e => ["opg_inferenceStats", hex(Math.max(from, e * size)), hex(Math.min(headNumber, (e + 1) * size - 1))]))]);
  const labels = epochList.map(e => "epoch " + e);
  const zeros = () => epochList.map(() => 0);
  const txs = zeros(), blocksIn = zeros(), slashed = zeros(), jailed = zeros(), attested = zeros();
  const calls = perEpoch.map(p => (p instanceof Error ? 0 : p.calls));
  const callers = perEpoch.map(p => (p instanceof Error ? 0 : p.uniqueCallers));
  const slot = n => Math.floor(n / size) - firstEpoch;
  numbers.forEach((n, i) => { blocksIn[slot(n)] += 1; if (!(counts[i] instanceof Error)) txs[slot(n)] += num(counts[i]); });
  const tally = (logs, into, weight) => { if (!(logs instanceof Error)) logs.forEach(l => { into[slot(num(l.blockNumber))] += weight(l); }); };
  tally(slashes, slashed, () => 1);
  tally(jails, jailed, () => 1);
  tally(attestations, attested, l => Number(BigInt("0x" + l.data.slice(2, 66))));
  const growth = calls.map((c, i) => (i === 0 || calls[i - 1] === 0 ? "—" : (((c - calls[i - 1]) / calls[i - 1]) * 100).toFixed(0) + "%"));
  const active = page => (page instanceof Error ? "—" : String(page.items.filter(o => !o.jailed && !o.tombstoned).length) + (page.nextCursor ? "+" : ""));
  show("Vital signs",
    h("p", {}, "Epochs of " + size + " blocks, from block " + from + " to the head (" + headNumber + "); refreshed with every new block."),
    h("div", { class: "cards" },
      h("div", { class: "card" }, "Inference calls", h("b", { "data-field": "calls" }, stats instanceof Error ? "—" : String(stats.calls))),
      h("div", { class: "card" }, "Unique callers", h("b", { "data-field": "uniqueCallers" }, stats instanceof Error ? "—" : String(stats.uniqueCallers))),
      h("div", { class: "card" }, "Active verifiers", h("b", { "data-field": "activeVerifiers" }, active(verifiers))),
      h("div", { class: "card" }, "Active providers", h("b", { "data-field": "activeProviders" }, active(providers)))),
    window.Chart ? null : note("Charts need Chart.js from the Debian package libjs-chart.js, which this node does not serve (see its log); the tables below hold the same figures."),
    h("h2", {}, "Inference calls and unique callers per epoch"),
    chart("chart-calls", "Inference calls and unique callers per epoch", labels, [{ label: "calls", data: calls, backgroundColor: "#2a6fdb" },
      { label: "unique callers", data: callers, backgroundColor: "#0a6b2d" }]),
    h("h2", {}, "Blocks and transactions per epoch"),
    chart("chart-activity", "Transactions per epoch", labels, [{ label: "transactions", data: txs, backgroundColor: "#5b8c3a" }]),
    h("h2", {}, "Attestations, slashes and jailings per epoch"),
    chart("chart-faults", "Attestations, slashes and jailings per epoch", labels, [{ label: "attestations", data: attested, backgroundColor: "#7a4fb0" },
      { label: "slashes", data: slashed, backgroundColor: "#a3141c" }, { label: "jailings", data: jailed, backgroundColor: "#b07d00" }]),
    table(["Epoch", "Blocks", "Transactions", "Inference calls", "Growth", "Unique callers", "Attestations", "Slashes", "Jailings"],
      labels.map((l, i) => [l, String(blocksIn[i]), String(txs[i]), String(calls[i]), growth[i], String(callers[i]), String(attested[i]),
        String(slashed[i]), String(jailed[i])]), "epochs"),
    h("h2", {}, "Verification"),
    missingMethod(progress)
      ? note("Coverage (attested share of calls), time to finality and disputes come from the Jobs module's opg_verificationStats, which this node does not have yet.")
      : progress instanceof Error ? h("p", { class: "error" }, progress.message)
        : facts(Object.entries(progress).filter(([, v]) => typeof v !== "object").map(([k, v]) => [k, valueText(v), k])));
}

// ---- search ---------------------------------------------------------------------------

async function search(query) {
  const q = query.trim();
  if (/^\d+$/.test(q)) return "#/block/" + q;
  if (/^0x[0-9a-fA-F]{40}$/.test(q)) return "#/address/" + q;
  if (/^0x[0-9a-fA-F]{64}$/.test(q)) {
    const [tx, blockByHash, record, m] = await batch([["eth_getTransactionByHash", q], ["eth_getBlockByHash", q, false], ["opg_getInference", q], ["opg_getModel", q]]);
    if (tx && !(tx instanceof Error)) return "#/tx/" + q;
    if (blockByHash && !(blockByHash instanceof Error)) return "#/block/" + q;
    if (record && !(record instanceof Error)) return "#/inference/" + q;
    if (m && !(m instanceof Error)) return "#/model/" + m.cidV0;
    return null;
  }
  const m = await rpc("opg_getModel", q).catch(() => null);
  return m ? "#/model/" + m.cidV0 : null;
}

document.getElementById("search").addEventListener("submit", async event => {
  event.preventDefault();
  const q = document.getElementById("search-input").value;
  if (!q.trim()) return;
  const target = await search(q).catch(() => null);
  if (target) location.hash = target;
  else show("Search", h("p", { class: "note", id: "not-found" }, "Nothing on this chain matches “" + q.trim() + "”: try a block number, a block or transaction hash, an address, a model id (CIDv0, CIDv1 or SHA-256) or an inference id."));
});

// ---- routing and live updates ---------------------------------------------------------

const routes = [
  [/^\/?$/, () => overview()],
  [/^\/blocks$/, (m, p) => blocks(p)],
  [/^\/block\/(\w+)$/, m => block(m[1])],
  [/^\/tx\/(0x[0-9a-fA-F]{64})$/, m => transaction(m[1])],
  [/^\/address\/(0x[0-9a-fA-F]{40})$/, m => address(m[1])],
  [/^\/models$/, (m, p) => models(p)],
  [/^\/model\/([^/]+)$/, (m, p) => model(decodeURIComponent(m[1]), p)],
  [/^\/inference\/(0x[0-9a-fA-F]{64})$/, m => inference(m[1])],
  [/^\/operators$/, (m, p) => operators(p)],
  [/^\/jobs$/, (m, p) => jobs(p)],
  [/^\/job\/([^/]+)$/, m => job(decodeURIComponent(m[1]))],
  [/^\/vitals$/, () => vitals()],
];
// Pages that follow the head: re-rendered on each new block (at most once a second).
const livePages = [/^\/?$/, /^\/blocks$/, /^\/vitals$/];
let rendering = null;

async function render() {
  const hash = location.hash || "#/";
  const [path, query] = (location.hash.slice(1) || "/").split("?");
  const params = new URLSearchParams(query || "");
  const route = routes.find(([pattern]) => pattern.test(path));
  main.setAttribute("aria-busy", "true");
  try {
    if (route) await route[1](path.match(route[0]), params);
    else show("Not found", h("p", { class: "note" }, "No page at " + location.hash + "."));
  } catch (error) {
    show("Error", h("p", { class: "error" }, error.message));
  }
  main.setAttribute("aria-busy", "false");
  main.dataset.rendered = hash;
}

// One render at a time; a request that arrives during one renders again after it, so the
// page always ends on the current route.
let renderAgain = false;
function renderOnce() {
  if (rendering) {
    renderAgain = true;
    return rendering;
  }
  rendering = render().finally(() => {
    rendering = null;
    if (renderAgain) {
      renderAgain = false;
      renderOnce();
    }
  });
  return rendering;
}

window.addEventListener("hashchange", () => { renderOnce().then(() => main.focus({ preventScroll: true })); });

let refreshDue = false;
function connectEvents() {
  const events = new EventSource("/events");
  events.addEventListener("open", () => { live.textContent = "live"; });
  events.addEventListener("block", message => {
    const b = JSON.parse(message.data);
    head = b.number;
    live.textContent = "live · block " + b.number;
    const path = (location.hash.slice(1) || "/").split("?")[0];
    if (livePages.some(p => p.test(path)) && !refreshDue) {
      refreshDue = true;
      setTimeout(() => { refreshDue = false; renderOnce(); }, 1000);
    }
  });
  events.addEventListener("dropped", () => { live.textContent = "reconnecting…"; });
  events.addEventListener("error", () => { live.textContent = "reconnecting…"; });
}

async function start() {
  network = await fetch("/explorer/network.json").then(r => r.json());
  head = num(await rpc("eth_blockNumber"));
  connectEvents();
  await renderOnce();
}

start().catch(error => show("Error", h("p", { class: "error" }, "The node did not answer: " + error.message)));
