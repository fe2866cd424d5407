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
  show("Jobs",
    table(["Job", "Status", "Label", "Class", "Model", "Requester", "Provider", "Requested at"], page.items.map(j =>
      [link("#/job/" + j.jobId, short(j.jobId)), j.status, j.label || "—", j.verificationClass, modelLink(j.modelId),
        addressLink(j.requester), addressLink(j.provider), blockLink(j.requestedAt)]), "jobs"),
    pager(cursor ? "#/jobs" : null, page.nextCursor ? "#/jobs?cursor=" + page.nextCursor : null));
}

// The lifecycle of job `j` as steps {step, label, block, detail, done}: the blocks come from
// the job record (a transition made by the end-block hook has no event; its block follows
// from the record and the module's parameters in network.json) and from the job's events.
function lifecycle(j, logs) {
  const p = network.jobs || {};
  const topic = name => topicOf("Jobs", name);
  const eventBlock = name => { const l = logs.filter(l => l.topics[0] === topic(name)); return l.length ? num(l[l.length - 1].blockNumber) : null; };
  const eventTx = name => { const l = logs.find(l => l.topics[0] === topic(name)); return l ? l.transactionHash : null; };
  const n = (j.committee || []).length;
  const settled = ["finalized", "refunded", "unverified", "overturned"].includes(j.status);
  const steps = [];
  const add = (step, label, block, detail, tx) => steps.push({ step, label, block, detail, tx, done: block !== null && block !== undefined });
  add("requested", "Requested", j.requestedAt, "by " + short(j.requester) + ", max fee " + opg(j.maxFee) + ", verification fee " + opg(j.verificationFee), eventTx("JobRequested"));
  add("assigned", "Assigned", j.provider && j.acceptBy && p.acceptBlocks !== undefined ? j.acceptBy - p.acceptBlocks : null,
    j.provider ? "provider " + short(j.provider) + ", accept by block " + j.acceptBy : "no provider drawn yet");
  add("accepted", "Accepted", eventBlock("JobAccepted"), num(j.fee) ? "fee " + opg(j.fee) + ", collateral " + opg(j.collateral) : "", eventTx("JobAccepted"));
  add("committed", "Result committed", j.committedAt || null, j.committedAt ? "output " + short(j.outputHash) : "deadline block " + j.deadline, eventTx("ResultCommitted"));
  add("attesting", "Committee drawn", j.commitEnd && p.attestCommitBlocks !== undefined ? j.commitEnd - p.attestCommitBlocks : null,
    n ? n + " verifiers, round " + j.round + (j.round > 0 ? " (redrawn)" : "") + ", reveals until block " + j.revealEnd : "");
  add("attested", "Attested " + j.revealedCount + "/" + n, j.revealedCount ? eventBlock("AttestationRevealed") : null,
    (j.committee || []).map(m => short(m.address) + ": " + (m.verdict || (m.committed ? "committed" : "—"))).join(", "));
  add("challengeWindow", "Challenge window", j.challengeEnd && p.challengeBlocks !== undefined ? j.challengeEnd - p.challengeBlocks : null,
    j.challengeEnd ? "open until block " + j.challengeEnd : "");
  if (j.dispute) add("disputed", "Disputed", j.dispute.openedAt, (j.dispute.challenger ? "challenged by " + short(j.dispute.challenger)
    : "the committee found the result invalid") + "; dispute " + j.dispute.state);
  if (settled) add(j.status, j.status[0].toUpperCase() + j.status.slice(1), j.settledAt, j.label ? "label " + j.label : "", j.status === "finalized" ? eventTx("JobFinalized") : null);
  else if (!j.dispute) add("finalized", "Finalized", null, "");
  return steps;
}

async function job(id) {
  const j = await rpc("opg_getJob", id).catch(e => e);
  if (missingMethod(j)) return show("Job", note("This node has no Jobs module yet (opg_getJob does not exist)."));
  if (j instanceof Error) return show("Job", h("p", { class: "error" }, j.message));
  const headNumber = num(await rpc("eth_blockNumber"));
  const logs = await rpc("eth_getLogs", { fromBlock: hex(j.requestedAt), toBlock: hex(Math.min(headNumber, j.requestedAt + 9999)),
    address: addressOf("Jobs"), topics: [null, j.jobId] }).catch(() => []);
  const steps = lifecycle(j, logs);
  show("Job " + short(String(id)),
    facts([["Job id", j.jobId, "jobId"], ["Status", j.status, "status"], ["Label", j.label || "— (no settled result)", "label"],
      ["Class", j.verificationClass + (j.verificationClass === "attestedOnly" ? " (checked for form and availability only, never called verified)" : ""), "verificationClass"],
      ["Model", modelLink(j.modelId), "modelId"], ["Requester", addressLink(j.requester), "requester"], ["Provider", addressLink(j.provider), "provider"],
      ["Input hash", j.inputHash, "inputHash"], ["Output hash", j.outputHash, "outputHash"], ["Trace root", j.traceRoot, "traceRoot"]]),
    h("h2", {}, "Lifecycle"),
    h("ol", { id: "timeline", class: "timeline" }, steps.map(s => h("li", { "data-step": s.step, class: s.done ? "done" : "todo" },
      h("b", {}, s.label), " ", s.done ? ["block ", blockLink(s.block)] : h("span", { class: "muted" }, "not yet"),
      s.tx ? [" · ", txLink(s.tx)] : null, s.detail ? h("div", { class: "muted" }, s.detail) : null))),
    h("h2", {}, "Committee"),
    table(["Verifier", "Weight", "Committed", "Verdict"], (j.committee || []).map(m =>
      [addressLink(m.address), String(BigInt(m.weight)), m.committed ? "yes" : "no", m.verdict || "—"]), "committee"));
}

// ---- vital signs ----------------------------------------------------------------------

const charts = [];
const pendingCharts = [];
const palette = ["#1f5fbf", "#0a6b2d", "#7a4fb0", "#a3141c", "#8a5a00", "#006b75"];

// A chart of `datasets` ({label, data, type?, axis?}) over `labels`; bars unless a dataset says "line".
// It is drawn by drawCharts() once its canvas is in the page (a detached canvas has no size,
// and Chart.js would draw it only later, leaving the box blank meanwhile).
function chart(id, label, labels, datasets, percentAxis) {
  const canvas = h("canvas", { id, role: "img", "aria-label": label + " (the table below has the same figures)" });
  const box = h("div", { class: "chart" }, canvas);
  if (window.Chart) {
    const scales = { y: { beginAtZero: true, ticks: { color: "#1a1a1a" } }, x: { ticks: { color: "#1a1a1a" } } };
    if (percentAxis) scales.y1 = { position: "right", beginAtZero: true, max: 100, grid: { drawOnChartArea: false }, ticks: { color: "#1a1a1a", callback: v => v + "%" } };
    pendingCharts.push([canvas, {
      type: "bar",
      data: { labels, datasets: datasets.map((d, i) => ({ type: d.type || "bar", label: d.label, data: d.data, yAxisID: d.axis || "y",
        backgroundColor: palette[i % palette.length], borderColor: palette[i % palette.length], spanGaps: true })) },
      options: { animation: false, maintainAspectRatio: false, scales, plugins: { legend: { labels: { color: "#1a1a1a" } } } },
    }]);
  }
  return box;
}

// Replaces the drawn charts (whose canvases show() has just taken out of the page) with the pending ones.
function drawCharts() {
  charts.splice(0).forEach(c => c.destroy());
  for (const [canvas, config] of pendingCharts.splice(0)) charts.push(new window.Chart(canvas, config));
}

const topicOf = (module, event) => (network.modules.find(m => m.name === module) || { eventTopics: {} }).eventTopics[event];
const addressOf = module => (network.modules.find(m => m.name === module) || {}).address;
const percent = bps => (bps === null || bps === undefined ? "—" : (bps / 100).toFixed(2) + "%");
const signedPercent = bps => (bps === null || bps === undefined ? "—" : (bps > 0 ? "+" : "") + percent(bps));
const medianP90 = t => (t && t.median !== null ? t.median + " / " + t.p90 : "—");
const orNull = v => (v === null || v === undefined ? null : v);

async function vitals(params) {
  pendingCharts.length = 0;
  const headNumber = num(await rpc("eth_blockNumber"));
  const size = network.epochBlocks;
  const count = Math.min(1000, Math.max(1, Number(params.get("epochs")) || 10));
  const firstEpoch = Math.max(0, Math.floor(headNumber / size) - (count - 1));
  // opg_verificationStats spans at most 10,000 blocks: the last `count` epochs, cut to that.
  const from = Math.max(firstEpoch * size, headNumber - 9999);
  const stats = await rpc("opg_verificationStats", hex(from), hex(headNumber)).catch(e => e);
  if (missingMethod(stats)) return show("Vital signs", note("This node has no opg_verificationStats: the vital signs need it."));
  if (stats instanceof Error) return show("Vital signs", h("p", { class: "error" }, stats.message));
  const epochs = stats.epochs, t = stats.total;
  const labels = epochs.map(e => "epoch " + e.epoch);
  const series = key => epochs.map(e => e[key]);
  show("Vital signs",
    h("p", {}, "Epochs of " + size + " blocks, from block " + from + " to the head (" + headNumber + "); refreshed with every new block. ",
      "Job outcomes count in the epoch the job was requested in; definitions in docs/rpc.md (Verification statistics)."),
    h("div", { class: "cards" },
      h("div", { class: "card" }, "Calls (jobs + in-block)", h("b", { "data-field": "calls" }, String(t.calls))),
      h("div", { class: "card" }, "Unique callers", h("b", { "data-field": "uniqueCallers" }, String(t.uniqueCallers))),
      h("div", { class: "card" }, "Jobs", h("b", { "data-field": "jobs" }, String(t.jobs))),
      h("div", { class: "card" }, "Attestations", h("b", { "data-field": "attestations" }, String(t.attestations))),
      h("div", { class: "card" }, "Coverage", h("b", { "data-field": "coverage" }, percent(t.coverageBps))),
      h("div", { class: "card" }, "Active verifiers", h("b", { "data-field": "activeVerifiers" }, String(t.activeVerifiers))),
      h("div", { class: "card" }, "Active providers", h("b", { "data-field": "activeProviders" }, String(t.activeProviders))),
      h("div", { class: "card" }, "Time to finality (median)", h("b", { "data-field": "timeToFinality" }, t.timeToFinality.median === null ? "—" : t.timeToFinality.median + " blocks"))),
    window.Chart ? null : note("Charts need Chart.js from the Debian package libjs-chart.js, which this node does not serve (see its log); the tables below hold the same figures."),
    h("h2", {}, "Calls and unique callers per epoch"),
    chart("chart-calls", "Calls and unique callers per epoch", labels, [{ label: "calls", data: series("calls") },
      { label: "unique callers", data: series("uniqueCallers") }, { label: "jobs", data: series("jobs") }]),
    h("h2", {}, "Attestations and coverage per epoch"),
    chart("chart-attestations", "Attestations and coverage per epoch", labels, [{ label: "attestations", data: series("attestations") },
      { label: "coverage %", type: "line", axis: "y1", data: epochs.map(e => (e.coverageBps === null ? null : e.coverageBps / 100)) }], true),
    h("h2", {}, "Active verifiers and providers per epoch"),
    chart("chart-operators", "Active verifiers and providers per epoch", labels, [{ label: "verifiers", data: series("activeVerifiers") },
      { label: "providers", data: series("activeProviders") }]),
    h("h2", {}, "Time to quorum and to finality (blocks)"),
    chart("chart-finality", "Time to quorum and to finality per epoch, in blocks", labels, [
      { label: "quorum, median", type: "line", data: epochs.map(e => orNull(e.timeToQuorum.median)) },
      { label: "finality, median", type: "line", data: epochs.map(e => orNull(e.timeToFinality.median)) },
      { label: "finality, p90", type: "line", data: epochs.map(e => orNull(e.timeToFinality.p90)) }]),
    h("h2", {}, "Disputes and slashes per epoch"),
    chart("chart-faults", "Disputes, slashes and jailings per epoch", labels, [{ label: "disputes", data: series("disputes") },
      { label: "slashes", data: series("slashes") }, { label: "jailings", data: series("jailings") }]),
    table(["Epoch", "Blocks", "Calls", "Growth", "Unique callers", "Jobs", "In-block calls", "Attestations", "Coverage", "Active verifiers",
      "Active providers", "To quorum (med / p90)", "To finality (med / p90)", "Disputes", "Slashes"],
      epochs.map((e, i) => [labels[i], String(e.toBlock - e.fromBlock + 1), String(e.calls), signedPercent(e.callsGrowthBps), String(e.uniqueCallers),
        String(e.jobs), String(e.inferenceCalls), String(e.attestations), percent(e.coverageBps), String(e.activeVerifiers),
        String(e.activeProviders), medianP90(e.timeToQuorum), medianP90(e.timeToFinality), String(e.disputes), String(e.slashes)]), "epochs"),
    h("h2", {}, "Over the range"),
    facts([["Largest vote share", percent(t.largestVoteShareBps), "largestVoteShare"], ["Nakamoto coefficient", t.nakamotoCoefficient === null ? "—" : String(t.nakamotoCoefficient), "nakamotoCoefficient"],
      ["Time to quorum (median / p90)", medianP90(t.timeToQuorum), "timeToQuorumTotal"], ["Time to finality (median / p90)", medianP90(t.timeToFinality), "timeToFinalityTotal"],
      ["Pending jobs", String(t.pending), "pending"], ["Dispute rate", percent(t.disputeRateBps), "disputeRate"],
      ["Overturn rate", t.overturnRateBps === null ? "— (no dispute resolved)" : percent(t.overturnRateBps), "overturnRate"],
      ["Timeout rate", percent(t.timeoutRateBps), "timeoutRate"], ["Refund rate", percent(t.refundRateBps), "refundRate"],
      ["Unverified", String(t.unverified), "unverified"], ["Slashes", String(t.slashes), "slashes"],
      ["Verifiers with stake at block " + headNumber, String(stats.verifierStake.verifiers), "stakedVerifiers"],
      ["Largest verifier stake share", percent(stats.verifierStake.largestShareBps), "largestStakeShare"],
      ["Nakamoto coefficient of verifier stake", stats.verifierStake.nakamotoCoefficient === null ? "—" : String(stats.verifierStake.nakamotoCoefficient), "stakeNakamotoCoefficient"]]));
  drawCharts();
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
  [/^\/vitals$/, (m, p) => vitals(p)],
];
// Pages that follow the head: re-rendered on each new block (at most once a second).
const livePages = [/^\/?$/, /^\/blocks$/, /^\/vitals$/, /^\/jobs$/, /^\/job\//];
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
