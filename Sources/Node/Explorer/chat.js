// opg chat: each message is a job of the jobs module on the chat model (docs/chat.md, "The
// chat page"). Jobs are signed by the browser's wallet (window.ethereum, EIP-1193) or, on a
// devnet started by `opgd dev`, by the node's dev signer; the answer streams from the
// provider's endpoint as a preview, and the committed answer and its verification state are
// read from this node's JSON-RPC.
"use strict";

// The chat model's id as jobs store it (docs/chat.md, "The devnet's chat model").
const CHAT_MODEL = "QmRKDnhryJNa55zSzdVGS6djodxMjULCekyAC7gkKZ4mCt";
// Function selectors: keccak256 of the signatures, first 4 bytes (checked by test_chat_page.py).
const REQUEST_JOB = "cf18acd6";  // requestJob(string,bytes,bytes32,string,uint8,uint256,uint256,uint64)
const JOB_OUTPUT = "f85b9126";   // jobOutput(bytes32)
const EXACT = 1;
const WEI = 10n ** 18n;
const DEADLINE_BLOCKS = 200n;     // blocks after the accept window in which the answer must be committed
const SETTLED = ["finalized", "unverified", "disputed", "overturned", "refunded"];
const ANSWERED = ["committed", "attesting", "challengeWindow", "finalized", "unverified", "disputed", "overturned"];

const $ = id => document.getElementById(id);
const conversation = $("conversation"), form = $("composer"), box = $("message"), sendButton = $("send");
const accountSelect = $("account"), tokenSelect = $("max-tokens"), feeLine = $("fee"), problem = $("problem"), signerLine = $("signer");
const maxFeeInput = $("max-fee"), verificationFeeInput = $("verification-fee"), feeProblem = $("fee-problem");
let jobs = null, network = null, signer = null, requestedTopic = null, rpcId = 0, busy = false;
const messages = [];

// ---- the node's JSON-RPC ----------------------------------------------------------------

async function rpc(method, ...params) {
  const response = await fetch("/", { method: "POST", headers: { "Content-Type": "application/json" },
                                      body: JSON.stringify({ jsonrpc: "2.0", id: ++rpcId, method, params }) });
  if (!response.ok) throw new Error(`HTTP ${response.status} from the node for ${method}`);
  const answer = await response.json();
  if (answer.error) throw new Error(`${method}: ${answer.error.message}`);
  return answer.result;
}

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

function showProblem(text) {
  problem.textContent = text;
  problem.hidden = !text;
}

// ---- encoding -----------------------------------------------------------------------------

const utf8 = new TextEncoder(), fromUtf8 = new TextDecoder();

function hexOf(bytes) { return Array.from(bytes, b => b.toString(16).padStart(2, "0")).join(""); }
function bytesOf(hex) {
  const h = hex.startsWith("0x") ? hex.slice(2) : hex;
  return Uint8Array.from({ length: h.length / 2 }, (_, i) => parseInt(h.substr(2 * i, 2), 16));
}
function word(value) { return BigInt(value).toString(16).padStart(64, "0"); }
function padded(bytes) { return word(bytes.length) + hexOf(bytes).padEnd(Math.ceil(bytes.length / 32) * 64, "0"); }

// A JSON string as the chat input's canonical form writes it (docs/chat.md, "Input bytes"):
// only `"`, `\`, \n, \r, \t and other control characters escaped, those as \u00xx.
function canonicalString(text) {
  let out = '"';
  for (const ch of text) {
    const c = ch.codePointAt(0);
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (c < 0x20) out += "\\u" + c.toString(16).padStart(4, "0");
    else out += ch;
  }
  return out + '"';
}

// The chat job's input bytes: keys sorted, no white space.
function chatInput(conversationSoFar, maxTokens) {
  const items = conversationSoFar.map(m => `{"content":${canonicalString(m.content)},"role":"${m.role}"}`);
  return utf8.encode(`{"maxTokens":${maxTokens},"messages":[${items.join(",")}]}`);
}

// requestJob(modelId, input, 0, "", exact, maxFee, verificationFee, deadline) as calldata.
function requestJobCalldata(input, fees, deadline) {
  const model = padded(utf8.encode(CHAT_MODEL)), data = padded(input), uri = padded(new Uint8Array(0));
  const head = 8 * 32;
  const modelAt = head, inputAt = modelAt + model.length / 2, uriAt = inputAt + data.length / 2;
  return "0x" + REQUEST_JOB + word(modelAt) + word(inputAt) + word(0) + word(uriAt) + word(EXACT) + word(fees.maxFee)
    + word(fees.verificationFee) + word(deadline) + model + data + uri;
}

function opg(wei) {
  const whole = wei / WEI, fraction = (wei % WEI).toString().padStart(18, "0").replace(/0+$/, "");
  return fraction ? `${whole}.${fraction}` : `${whole}`;
}

// An amount in OPG as typed ("1", "0.25"): its wei, or an Error naming the field and the rule.
function parseOPG(text, field) {
  const typed = text.trim();
  if (!typed) return new Error(`${field}: enter an amount in OPG, e.g. 0.5`);
  const match = /^(\d{1,30})(?:\.(\d{1,18}))?$/.exec(typed);
  if (!match) return new Error(`${field}: "${typed}" is not an amount in OPG (digits, a point, at most 18 decimals)`);
  return BigInt(match[1]) * WEI + BigInt((match[2] || "").padEnd(18, "0"));
}

// The fees the user set: { maxFee, verificationFee } in wei, or an Error naming the rule broken
// (the jobs module refuses a zero max fee: the provider is paid from it).
function chosenFees() {
  const maxFee = parseOPG(maxFeeInput.value, "Max fee");
  if (maxFee instanceof Error) return maxFee;
  if (maxFee === 0n) return new Error("Max fee: must be above 0 OPG (the provider is paid from it)");
  const verificationFee = parseOPG(verificationFeeInput.value, "Verification fee");
  if (verificationFee instanceof Error) return verificationFee;
  return { maxFee, verificationFee };
}

// ---- signing: a wallet, or the devnet's dev signer ------------------------------------------

// What a wallet that stays on another chain is told (and nothing is sent).
function wrongChain(walletChain, reason) {
  return new Error(`your wallet is on chain ${walletChain} and did not switch to this node's chain ${network.chainId} `
                   + `(${reason}); nothing was sent: switch your wallet to chain ${network.chainId} and send again`);
}

// Asks the wallet to be on the node's chain: wallet_switchEthereumChain, and when the wallet
// does not know the chain (error 4902) wallet_addEthereumChain with the chain's name and currency
// from network.json (the genesis file's networkName) and this node as its RPC URL.
async function ensureWalletChain() {
  const wallet = window.ethereum, chainId = "0x" + BigInt(network.chainId).toString(16);
  const current = BigInt(await wallet.request({ method: "eth_chainId" }));
  if (current === BigInt(network.chainId)) return;
  const codeOf = error => error?.code ?? error?.data?.originalError?.code;
  try {
    await wallet.request({ method: "wallet_switchEthereumChain", params: [{ chainId }] });
  } catch (error) {
    if (codeOf(error) !== 4902) throw wrongChain(current, error?.message || `error ${codeOf(error)}`);
    try {
      await wallet.request({ method: "wallet_addEthereumChain", params: [{
        chainId, chainName: network.networkName ?? `opg chain ${network.chainId}`, rpcUrls: [location.origin],
        nativeCurrency: network.nativeCurrency, blockExplorerUrls: [location.origin + "/"] }] });
    } catch (addError) {
      throw wrongChain(current, addError?.message || `error ${codeOf(addError)}`);
    }
  }
  const now = BigInt(await wallet.request({ method: "eth_chainId" }));
  if (now !== BigInt(network.chainId)) throw wrongChain(now, "it reports another chain after switching");
}

async function findSigner() {
  if (window.ethereum && typeof window.ethereum.request === "function") {
    const accounts = await window.ethereum.request({ method: "eth_requestAccounts" });
    return { kind: "wallet", accounts, prepare: ensureWalletChain,
             send: tx => window.ethereum.request({ method: "eth_sendTransaction", params: [tx] }) };
  }
  const accounts = await rpc("eth_accounts");
  if (accounts.length === 0) {
    throw new Error("no wallet found (window.ethereum) and this node has no dev signer (only `opgd dev` has one): "
                    + "open this page in a browser with an Ethereum wallet to send messages");
  }
  return { kind: "dev", accounts, prepare: async () => {}, send: tx => rpc("eth_sendTransaction", tx) };
}

function showSigner() {
  signerLine.textContent = signer.kind === "wallet" ? "signing with your wallet" : "devnet: signing with the node's dev signer (public keys)";
  accountSelect.replaceChildren(...signer.accounts.map(a => new Option(a, a)));
  // Dev account 9 by default: the devnet's operators use the first ones.
  if (signer.kind === "dev") accountSelect.value = signer.accounts[signer.accounts.length - 1];
}

// ---- fees ------------------------------------------------------------------------------------

async function requestTransaction(text, fees) {
  const conversationSoFar = messages.concat([{ role: "user", content: text }]);
  const headNumber = BigInt(await rpc("eth_blockNumber"));
  const deadline = headNumber + 3n + BigInt(network.jobs.acceptBlocks) + DEADLINE_BLOCKS;
  return { from: accountSelect.value, to: jobs.address, value: "0x" + (fees.maxFee + fees.verificationFee).toString(16),
           data: requestJobCalldata(chatInput(conversationSoFar, Number(tokenSelect.value)), fees, deadline) };
}

// What the fees escrow, from the fields as they are (no RPC): shown at once as the user types.
// Returns the fees, or null when a field is invalid (its rule shown, sending off).
function showEscrow() {
  const fees = chosenFees(), invalid = fees instanceof Error;
  feeProblem.textContent = invalid ? fees.message : "";
  feeProblem.hidden = !invalid;
  for (const input of [maxFeeInput, verificationFeeInput]) input.setAttribute("aria-invalid", "false");
  if (invalid) (fees.message.startsWith("Max fee") ? maxFeeInput : verificationFeeInput).setAttribute("aria-invalid", "true");
  sendButton.disabled = invalid || busy;
  if (invalid) {
    feeLine.textContent = "Fee: set valid fees to send.";
    delete feeLine.dataset.escrow;
    delete feeLine.dataset.gas;
    return null;
  }
  feeLine.dataset.escrow = (fees.maxFee + fees.verificationFee).toString();
  feeLine.textContent = escrowText(fees) + (feeLine.dataset.gasText || "");
  return fees;
}

function escrowText(fees) {
  return `Fee per message: ${opg(fees.maxFee + fees.verificationFee)} OPG held with the job — at most ${opg(fees.maxFee)} OPG `
    + `to the provider (what it does not ask for comes back) and ${opg(fees.verificationFee)} OPG to the verifiers`;
}

async function estimateFee() {
  if (!signer) return null;
  const fees = showEscrow();
  if (!fees) return null;
  try {
    const tx = await requestTransaction(box.value || "?", fees);
    const [gas, price] = await Promise.all([rpc("eth_estimateGas", tx), rpc("eth_gasPrice")]);
    if (chosenFees() instanceof Error) return null;  // the fields changed while estimating
    feeLine.dataset.gasText = ` — plus gas of about ${opg(BigInt(gas) * BigInt(price))} OPG (${BigInt(gas)} gas).`;
    feeLine.dataset.gas = BigInt(gas).toString();
    showEscrow();
    return null;
  } catch (error) {
    delete feeLine.dataset.gas;
    feeLine.dataset.gasText = ` — gas: cannot estimate (${error.message}).`;
    showEscrow();
    return error.message;
  }
}

let feeTimer = null;
function estimateSoon() {
  clearTimeout(feeTimer);
  feeTimer = setTimeout(estimateFee, 300);
}

// ---- one answer ---------------------------------------------------------------------------

function addTurn(role, text) {
  const item = document.createElement("li");
  item.className = `turn ${role}`;
  const who = document.createElement("div");
  who.className = "who";
  who.textContent = role === "user" ? "You" : "SmolLM2-135M (small model: often wrong on facts and arithmetic)";
  const body = document.createElement("div");
  body.className = "text";
  body.textContent = text;
  item.append(who, body);
  conversation.append(item);
  return item;
}

function answerTurn() {
  const item = addTurn("assistant", "");
  const progress = document.createElement("div");
  progress.className = "progress";
  progress.setAttribute("role", "status");
  const badge = document.createElement("span");
  badge.className = "badge";
  badge.dataset.state = "pending";
  badge.textContent = "sending…";
  item.append(progress, badge);
  return { item, text: item.querySelector(".text"), progress, badge };
}

function setBadge(turn, state, text) {
  turn.badge.dataset.state = state;
  turn.badge.textContent = text;
}

// The badge for a job record: what the network has established about the answer.
function badgeOf(job) {
  const attested = `${job.revealedCount ?? 0}/${(job.committee || []).length}`;
  switch (job.status) {
    case "requested": return ["pending", "waiting for a provider"];
    case "assigned": return ["pending", "provider drawn, generating"];
    case "accepted": return ["pending", "accepted by the provider"];
    case "committed": return ["answered", "answered · waiting for the committee"];
    case "attesting": return ["answered", `answered · attested ${attested}`];
    case "challengeWindow": return ["verified", `verified at quorum (${attested}) · final after block ${job.challengeEnd}`];
    case "finalized": return ["final", "final · verified (re-executed bit for bit)"];
    case "unverified": return ["failed", "unverified: no committee quorum"];
    case "disputed": return ["failed", "disputed"];
    case "overturned": return ["failed", "overturned: a dispute proved the answer wrong"];
    case "refunded": return ["failed", "refunded: no provider answered in time"];
    default: return ["pending", job.status];
  }
}

// Streams the provider's tokens into the turn as a preview (informational: the committed
// answer replaces it). Resolves when the stream ends.
async function streamFrom(provider, jobId, turn) {
  let endpoint = null;
  try { endpoint = await rpc("opg_getProviderEndpoint", provider); } catch (error) { endpoint = null; }
  if (!endpoint) {
    turn.progress.textContent = "the provider announced no stream endpoint: the answer shows once committed";
    return;
  }
  const source = new EventSource(`${endpoint.url}/jobs/${jobId}/stream`);
  const streamed = [];
  await new Promise(resolve => {
    const finish = () => { source.close(); resolve(); };
    source.addEventListener("token", event => {
      const token = JSON.parse(event.data);
      if (streamed.length === 0) turn.item.dataset.firstTokenBadge = turn.badge.dataset.state;
      streamed.push(token.token);
      turn.item.dataset.streamedTokens = streamed.join(",");
      if (!turn.item.dataset.committed) {
        turn.text.classList.add("preview");
        turn.text.textContent = token.text;
        turn.progress.textContent = `generating on the provider: ${streamed.length} tokens (preview; the answer is the one committed on chain)`;
      }
    });
    source.addEventListener("done", finish);
    source.addEventListener("error", event => {
      if (event.data) turn.progress.textContent = `the provider's stream: ${JSON.parse(event.data).message}`;
      finish();
    });
  });
}

// The committed answer (inline output, `jobOutput`), parsed as a chat output.
async function committedAnswer(jobId) {
  const returned = bytesOf(await rpc("eth_call", { to: jobs.address, input: "0x" + JOB_OUTPUT + jobId.slice(2) }, "latest"));
  const length = Number(BigInt("0x" + hexOf(returned.slice(32, 64))));
  return JSON.parse(fromUtf8.decode(returned.slice(64, 64 + length)));
}

async function follow(jobId, turn) {
  const link = document.createElement("a");
  link.href = `/#/job/${jobId}`;
  link.textContent = `job ${jobId.slice(0, 10)}… in the explorer`;
  link.className = "job-link";
  turn.item.append(" ", link);
  let streaming = null, answer = null;
  while (true) {
    const job = await rpc("opg_getJob", jobId);
    const [state, text] = badgeOf(job);
    setBadge(turn, state, text);
    if (!streaming && job.provider) streaming = streamFrom(job.provider, jobId, turn);
    if (answer === null && ANSWERED.includes(job.status)) {
      const output = await committedAnswer(jobId);
      answer = output.text;
      turn.item.dataset.committed = "true";
      turn.item.dataset.committedTokens = output.tokens.join(",");
      turn.text.classList.remove("preview");
      turn.text.textContent = answer + (output.finish === "length" ? " …(cut at the token cap)" : "");
      turn.progress.textContent = `answered in block ${job.committedAt}: this is the committed answer`;
    }
    if (SETTLED.includes(job.status)) return ["disputed", "overturned", "refunded"].includes(job.status) ? null : answer;
    await sleep(400);
  }
}

async function send(event) {
  event.preventDefault();
  const text = box.value.trim();
  const fees = chosenFees();
  if (!text || !signer || busy || fees instanceof Error) return;
  busy = true;
  sendButton.disabled = true;
  showProblem("");
  try {
    await signer.prepare();
  } catch (error) {
    showProblem(error.message);
    busy = false;
    showEscrow();
    return;
  }
  addTurn("user", text);
  const turn = answerTurn();
  try {
    const tx = await requestTransaction(text, fees);
    box.value = "";
    const hash = await signer.send(tx);
    setBadge(turn, "pending", "submitted, waiting for its block");
    let receipt = null;
    while (!(receipt = await rpc("eth_getTransactionReceipt", hash))) await sleep(250);
    if (receipt.status !== "0x1") throw new Error(`the job request failed in block ${Number(receipt.blockNumber)} (transaction ${hash})`);
    const log = receipt.logs.find(l => l.topics[0] === requestedTopic);
    if (!log) throw new Error(`transaction ${hash} requested no job`);
    turn.item.dataset.jobId = log.topics[1];
    const answer = await follow(log.topics[1], turn);
    if (answer !== null) messages.push({ role: "user", content: text }, { role: "assistant", content: answer });
  } catch (error) {
    setBadge(turn, "failed", "not sent");
    showProblem(error.message);
  } finally {
    busy = false;
    showEscrow();
    box.focus();
    estimateSoon();
  }
}

async function start() {
  try {
    network = await fetch("/explorer/network.json").then(r => r.json());
    jobs = network.modules.find(m => m.name === "Jobs");
    if (!jobs || !network.jobs) throw new Error("this chain has no jobs module: chat needs it");
    requestedTopic = jobs.eventTopics.JobRequested;
    signer = await findSigner();
    showSigner();
    let chainProblem = null;
    await signer.prepare().catch(error => { chainProblem = error.message; });
    form.addEventListener("submit", send);
    box.addEventListener("input", estimateSoon);
    box.addEventListener("keydown", event => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
    });
    accountSelect.addEventListener("change", estimateSoon);
    tokenSelect.addEventListener("change", estimateSoon);
    for (const input of [maxFeeInput, verificationFeeInput]) {
      input.addEventListener("input", () => { showEscrow(); estimateSoon(); });
    }
    const failure = await estimateFee();
    // A request this chain refuses now (the chat model not registered: `make dev` registers it).
    if (failure) showProblem(`A message would be refused now: ${failure}`);
    // A wallet that refused to switch chains: the page stays, and asks again when a message is sent.
    if (chainProblem) showProblem(chainProblem);
    document.body.dataset.ready = chainProblem ? "wrong-chain" : "true";
  } catch (error) {
    signerLine.textContent = "cannot send";
    sendButton.disabled = true;
    showProblem(error.message);
    document.body.dataset.ready = "false";
  }
}

start();
