import Chat
import ChatRuntime
import CLIKit
import Foundation
import HTTPServer
import JSON
import Modules
import Operators
import Primitives

/// `opg chat` with no subcommand: a conversation whose every message is a job of the jobs
/// module (docs/chat.md, "opg chat").
func chatConversation(_ argv: [String]) throws -> Int32 {
    let args = try Arguments(argv, options: ["--rpc", "--keystore", "--password-file", "--from", "--model", "--message", "--system", "--max-tokens",
                                             "--max-fee", "--verification-fee", "--class", "--backend", "--deadline-blocks", "--until"])
    if args.wantsHelp { print(chatUsage); return 0 }
    try args.expectPositionals([])
    let from = try parseAddress(try args.required("--from"), "--from")
    let className = try chatClassName(args)
    guard let verificationClass = VerificationClass.allCases.first(where: { $0.name == className }) else {
        throw UsageError("--class: \"\(className)\" is not exact or attestedOnly")
    }
    let until = args.option("--until") ?? "final"
    guard let goal = ChatSession.Goal(rawValue: until) else { throw UsageError("--until: \"\(until)\" is not answered, attested or final") }
    guard let blocks = UInt64(args.option("--deadline-blocks") ?? "200"), blocks > 0 else {
        throw UsageError("--deadline-blocks: a positive whole number of blocks")
    }
    let rpc = try RPCClient(args.option("--rpc") ?? defaultRPC)
    var session = ChatSession(
        rpc: rpc, sender: TransactionSender(rpc: rpc, key: try unlockKey(args, from), chainId: try rpc.chainId()),
        modelId: args.option("--model") ?? "0x" + ChatModel.modelSHA256, verificationClass: verificationClass,
        maxFee: try parseOPG(args.option("--max-fee") ?? "1"), verificationFee: try parseOPG(args.option("--verification-fee") ?? "0.1"),
        maxTokens: try tokenCap(args), deadlineBlocks: blocks, goal: goal)
    if let system = args.option("--system") { session.messages.append(ChatMessage(role: .system, content: system)) }
    print(chatNotice(args))
    print("Model \(session.modelId), class \(verificationClass.name), up to \(session.maxTokens) tokens per answer, fees \(formatOPG(session.maxFee)) + "
          + "\(formatOPG(session.verificationFee)) OPG per message. Messages and answers become public on chain.")
    if let message = args.option("--message") { return try session.send(message) ? 0 : 1 }
    while true {
        print("> ", terminator: "")
        fflush(stdout)
        guard let line = readLine() else { print(""); return 0 }
        let text = line.trimmingCharacters(in: .whitespaces)
        if text.isEmpty { continue }
        if text == "/quit" || text == "/exit" { return 0 }
        do { _ = try session.send(text) } catch let error as CommandFailure { printError("opg: \(error)") }
    }
}

/// A conversation on the chain: the messages so far and how each new one becomes a job.
struct ChatSession {
    /// The state an answer is waited for before the next message.
    enum Goal: String {
        case answered, attested, final
    }

    let rpc: RPCClient
    let sender: TransactionSender
    let modelId: String
    let verificationClass: VerificationClass
    let maxFee: UInt256
    let verificationFee: UInt256
    let maxTokens: Int
    let deadlineBlocks: UInt64
    let goal: Goal
    var messages: [ChatMessage] = []

    /// Sends `text` as the user's next message and follows its job, printing progress, the
    /// answer and the badge. Returns whether it was answered; an unanswered message is taken
    /// back out of the conversation.
    mutating func send(_ text: String) throws -> Bool {
        let input: ChatJobInput
        do { input = try ChatJobInput(messages: messages + [ChatMessage(role: .user, content: text)], maxTokens: maxTokens) } catch {
            throw CommandFailure("\(error)")
        }
        let head = try Hex.decodeQuantity(try rpc.call("eth_blockNumber", []).stringValue ?? "")
        let request = JobRequest(modelId: modelId, input: input.encoded(), verificationClass: verificationClass, maxFee: maxFee,
                                 verificationFee: verificationFee, deadline: head + deadlineBlocks)
        let (id, block) = try submitJob(request, sender: sender)
        print("submitted  job \(id) in block \(block)")
        guard let answer = try follow(id) else { return false }
        messages = input.messages + [ChatMessage(role: .assistant, content: answer)]
        return true
    }

    /// Polls the job until `goal` or a settlement, printing each step; the answer's text, or
    /// nil when the job ended without one.
    private func follow(_ id: String) throws -> String? {
        var last = "requested", lastAttested = "", answer: String? = nil, streamed = false, quorumShown = false
        while true {
            let job = try rpc.call("opg_getJob", [.string(id)])
            let status = job["status"]?.stringValue ?? "?"
            if status != last {
                last = status
                switch status {
                case "assigned": print("assigned   to provider \(job["provider"]?.stringValue ?? "?")")
                case "accepted": print("accepted   by \(job["provider"]?.stringValue ?? "?")")
                default: break
                }
                if !streamed, ["assigned", "accepted"].contains(status), let provider = job["provider"]?.stringValue {
                    streamed = true
                    streamPreview(id, provider: provider)
                }
            }
            if answer == nil, ["committed", "attesting", "challengeWindow", "finalized", "unverified", "disputed"].contains(status) {
                answer = try readAnswer(id, job)
                if goal == .answered { print(badge(id, job, settled: false)); return answer }
            }
            let committee = job["committee"]?.arrayValue?.count ?? 0
            let attested = "\(job["revealedCount"]?.serialized() ?? "0")/\(committee)"
            if ["attesting", "challengeWindow"].contains(status), attested != lastAttested, committee > 0 {
                lastAttested = attested
                quorumShown = status == "challengeWindow"
                print("attested   \(attested)" + (quorumShown ? ": quorum reached, challenge window until block \(job["challengeEnd"]?.serialized() ?? "?")" : ""))
            }
            if status == "challengeWindow", goal == .attested { print(badge(id, job, settled: false)); return answer }
            if status == "challengeWindow", let end = job["challengeEnd"]?.numberValue?.uint64,
               try Hex.decodeQuantity(try rpc.call("eth_blockNumber", []).stringValue ?? "") >= end {
                // The window has passed: finalize it ourselves (anyone may; the requester is refunded M − F by it).
                _ = try? sender.sendAndWait(try ABI.encodeCall("finalize(bytes32)", [.fixedBytes(try Hash32(hex: id).bytes)]), to: Jobs.address)
            }
            switch status {
            case "finalized", "unverified", "disputed", "overturned":
                if status == "finalized", committee > 0, !quorumShown {
                    // The quorum and the whole challenge window fell between two looks (a streamed preview takes a while).
                    print("attested   \(attested): quorum reached, challenge window passed")
                }
                print(badge(id, job, settled: true))
                return ["disputed", "overturned"].contains(status) ? nil : answer
            case "refunded":
                print("refunded   job \(id): no provider answered in time; the fees went back")
                return nil
            default:
                Thread.sleep(forTimeInterval: 0.25)
            }
        }
    }

    /// Prints the answer as the provider generates it, from its stream endpoint (docs/chat.md,
    /// "Streaming"): a preview only, the answer is the one committed on chain (printed once it
    /// is). Nothing when the provider announced no endpoint; a broken stream ends with a note.
    private func streamPreview(_ id: String, provider: String) {
        guard let endpoint = try? rpc.call("opg_getProviderEndpoint", [.string(provider)]), let base = endpoint["url"]?.stringValue,
              let client = try? HTTPClient(url: base + "/jobs/\(id)/stream", timeoutSeconds: 60) else { return }
        print("preview    ", terminator: "")
        var shown = ""
        func show(_ text: String) {
            // A character cut between tokens shows as U+FFFD until its next token: wait for it.
            let complete = String(text.reversed().drop { $0 == "\u{FFFD}" }.reversed())
            if complete.hasPrefix(shown) { print(complete.dropFirst(shown.count), terminator: "") }
            shown = complete
            fflush(stdout)
        }
        do {
            try client.events { name, data in
                let event = try JSONParser.parse(Array(data.utf8))
                switch name {
                case "token": show(event["text"]?.stringValue ?? "")
                case "done": show(event["text"]?.stringValue ?? shown)
                default: print(" (the provider's stream: \(event["message"]?.stringValue ?? data))", terminator: "")
                }
                return name == "token"
            }
            print(" (preview from \(base); the answer is the one committed on chain)")
        } catch {
            print(" (the provider's stream broke: \(error))")
        }
    }

    /// Reads the committed output (inline, or from its URI, checked against its hash) and
    /// prints the answer.
    private func readAnswer(_ id: String, _ job: JSONValue) throws -> String {
        print("answered   in block \(job["committedAt"]?.serialized() ?? "?")")
        let bytes = try JobReader(rpc: rpc).output(of: try JobView(job))
        if job["verificationClass"]?.stringValue == "attestedOnly", let remote = try? AttestedChatAnswer(bytes: bytes) {
            return printRemoteAnswer(remote, maxTokens: maxTokens)
        }
        do {
            let output = try ChatJobOutput(bytes: bytes)
            print("\n\(output.text)\(output.finish == .length ? " …(cut at \(maxTokens) tokens)" : "")\n")
            return output.text
        } catch {
            throw CommandFailure("job \(id): the provider's output is not a chat answer: \(error)")
        }
    }

    /// The verification badge: what the network has established about the answer.
    private func badge(_ id: String, _ job: JSONValue, settled: Bool) -> String {
        let attestedOnly = job["verificationClass"]?.stringValue == "attestedOnly"
        let state: String
        switch job["status"]?.stringValue {
        case "finalized": state = attestedOnly ? "final · attested-only (not re-executed: the backend cannot be re-run)" : "final · verified (re-executed bit for bit)"
        case "challengeWindow": state = attestedOnly ? "attested-only, at quorum" : "verified at quorum, final after block \(job["challengeEnd"]?.serialized() ?? "?")"
        case "unverified": state = "unverified (no committee quorum)"
        case "disputed": state = "disputed"
        case "overturned": state = "overturned (a dispute proved the answer wrong; the fees went back)"
        default: state = attestedOnly ? "attested-only, not yet attested" : "not yet verified"
        }
        return "[\(settled ? "" : "so far: ")\(state) · job \(id)]"
    }
}
