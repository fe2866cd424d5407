import Foundation

/// One authenticated, encrypted connection. The thread that calls `run` reads and decrypts
/// frames; a writer thread it starts drains the bounded send queue. A message enqueued while
/// nothing is queued or being written is encrypted and sent by the enqueuing thread itself, as far
/// as the socket takes it without blocking (the writer sends the rest): a consensus vote leaves
/// without waking a writer thread, one thread hop fewer per message on a height's critical path.
/// One thread at a time encrypts and writes (`writing`), so frames leave in nonce order. Any error
/// on either side closes the connection; `run` returns the reason after both threads are done and
/// the socket is closed, so the descriptor is never reused under a running thread.
final class PeerConnection: @unchecked Sendable {
    /// The authenticated peer.
    let peer: PeerID
    /// Whether we dialled.
    let outbound: Bool

    private let socket: TCPSocket
    private var sender: NoiseSender          // only the thread that set `writing`
    private var receiver: NoiseReceiver      // reader (run) thread only
    private var frames: FrameReader          // reader only; may hold bytes that followed the handshake
    private let maximumMessages: Int
    private let maximumBytes: Int

    private let state = NSCondition()
    private var queue: [[UInt8]] = []        // plaintext envelopes; guarded by state
    private var queueHead = 0
    private var queuedBytes = 0
    private var writing = false              // a thread is encrypting and writing; guarded by state
    private var unsent: [UInt8] = []         // ciphertext an immediate send left over; guarded by state
    private var closeReason: String?

    init(peer: PeerID, outbound: Bool, socket: TCPSocket, session: NoiseSession, frames: FrameReader,
         maximumMessages: Int, maximumBytes: Int) {
        self.peer = peer
        self.outbound = outbound
        self.socket = socket
        sender = session.sending
        receiver = session.receiving
        self.frames = frames
        self.maximumMessages = maximumMessages
        self.maximumBytes = maximumBytes
    }

    /// Sends a message now when nothing is queued or being written, else queues it; drops it when
    /// the queue is at its message or byte limit.
    func enqueue(_ envelope: Envelope) -> SendOutcome {
        let plaintext = envelope.encoded
        state.lock()
        guard closeReason == nil else {
            state.unlock()
            return .notConnected
        }
        if !writing && queueHead == queue.count && unsent.isEmpty {
            writing = true
            state.unlock()
            sendNow(plaintext)
            return .queued
        }
        defer { state.unlock() }
        guard queue.count - queueHead < maximumMessages, queuedBytes + plaintext.count <= maximumBytes else { return .queueFull }
        queue.append(plaintext)
        queuedBytes += plaintext.count
        state.signal()
        return .queued
    }

    /// Encrypts `plaintext` and writes what the socket takes without blocking; the rest is left
    /// for the writer thread. Called with `writing` set by this thread.
    private func sendNow(_ plaintext: [UInt8]) {
        do {
            let frame = Frame.encode(try sender.encrypt(plaintext))
            let written = try socket.writeAvailable(frame)
            finishWriting(leaving: frame[written...])
        } catch {
            finishWriting()
            close(reason: "\(error)")
        }
    }

    /// Clears `writing`, keeping `rest` (bytes of a frame not yet written) for the writer thread.
    /// Wakes the waiting threads only when one has something to do: the writer when bytes are
    /// left or messages were queued meanwhile, `run` once the connection is closing. An immediate
    /// send that left nothing behind wakes nobody (before, each one woke the idle writer thread,
    /// which found nothing and slept again: a futex wake-up and two context switches per message
    /// and peer).
    private func finishWriting(leaving rest: ArraySlice<UInt8> = []) {
        state.lock()
        if !rest.isEmpty { unsent = Array(rest) }
        writing = false
        if !unsent.isEmpty || queueHead < queue.count || closeReason != nil { state.broadcast() }
        state.unlock()
    }

    /// Ends the connection (first reason wins); wakes both threads.
    func close(reason: String) {
        state.lock()
        if closeReason == nil { closeReason = reason }
        state.broadcast()
        state.unlock()
        socket.shutdown()
    }

    /// Reads until the connection ends, handing each envelope to `deliver`; returns why it ended.
    func run(deliver: (Envelope) -> Void) -> String {
        let writerDone = DispatchSemaphore(value: 0)
        let writer = Thread { [self] in
            writeLoop()
            writerDone.signal()
        }
        writer.name = "p2p-writer"
        writer.start()
        readLoop(deliver: deliver)
        writerDone.wait()
        state.lock()
        // An immediate send still under way on another thread finishes (failing on the shut-down
        // socket) before the descriptor is released; none starts once the connection is closed.
        while writing { state.wait() }
        let reason = closeReason ?? "closed"
        state.unlock()
        socket.close()
        return reason
    }

    private func readLoop(deliver: (Envelope) -> Void) {
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        do {
            while true {
                while let ciphertext = try frames.next(minimumLength: Frame.minimumCiphertextLength) {
                    let envelope = try Envelope(decoding: try receiver.decrypt(ciphertext))
                    guard isOpen else { return }
                    deliver(envelope)
                }
                let count = try socket.read(into: &buffer)
                guard count > 0 else { throw NetworkError.connectionClosed }
                frames.append(buffer[0..<count])
            }
        } catch {
            close(reason: "\(error)")
        }
    }

    private var isOpen: Bool {
        state.lock()
        defer { state.unlock() }
        return closeReason == nil
    }

    private func writeLoop() {
        while let (leftover, plaintext) = nextOutgoing() {
            do {
                if !leftover.isEmpty { try socket.write(leftover) }
                if let plaintext { try socket.write(Frame.encode(try sender.encrypt(plaintext))) }
            } catch {
                finishWriting()
                close(reason: "\(error)")
                return
            }
            finishWriting()
        }
    }

    /// What to write next, waiting for it while another thread writes or nothing is left: the rest
    /// of an immediate send's frame first, then the next queued message; sets `writing`. Nil once closed.
    private func nextOutgoing() -> (leftover: [UInt8], plaintext: [UInt8]?)? {
        state.lock()
        defer { state.unlock() }
        while closeReason == nil && (writing || (queueHead == queue.count && unsent.isEmpty)) { state.wait() }
        guard closeReason == nil else { return nil }
        writing = true
        let leftover = unsent
        unsent = []
        guard queueHead < queue.count else { return (leftover, nil) }
        let plaintext = queue[queueHead]
        queueHead += 1
        queuedBytes -= plaintext.count
        if queueHead == queue.count {
            queue.removeAll(keepingCapacity: true)
            queueHead = 0
        } else if queueHead >= 1024 && queueHead * 2 >= queue.count {
            queue.removeFirst(queueHead)
            queueHead = 0
        }
        return (leftover, plaintext)
    }
}
