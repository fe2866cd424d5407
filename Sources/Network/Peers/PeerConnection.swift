import Foundation

/// One authenticated, encrypted connection. The thread that calls `run` reads and decrypts
/// frames; a writer thread it starts drains the bounded send queue. Any error on either side
/// closes the connection; `run` returns the reason after both threads are done and the socket is
/// closed, so the descriptor is never reused under a running thread.
final class PeerConnection: @unchecked Sendable {
    /// The authenticated peer.
    let peer: PeerID
    /// Whether we dialled.
    let outbound: Bool

    private let socket: TCPSocket
    private var sender: NoiseSender          // writer thread only
    private var receiver: NoiseReceiver      // reader (run) thread only
    private var frames: FrameReader          // reader only; may hold bytes that followed the handshake
    private let maximumMessages: Int
    private let maximumBytes: Int

    private let state = NSCondition()
    private var queue: [[UInt8]] = []        // plaintext envelopes; guarded by state
    private var queueHead = 0
    private var queuedBytes = 0
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

    /// Queues a message; drops it when the queue is at its message or byte limit.
    func enqueue(_ envelope: Envelope) -> SendOutcome {
        let plaintext = envelope.encoded
        state.lock()
        defer { state.unlock() }
        guard closeReason == nil else { return .notConnected }
        guard queue.count - queueHead < maximumMessages, queuedBytes + plaintext.count <= maximumBytes else { return .queueFull }
        queue.append(plaintext)
        queuedBytes += plaintext.count
        state.signal()
        return .queued
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
        socket.close()
        state.lock()
        defer { state.unlock() }
        return closeReason ?? "closed"
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
        while let plaintext = nextOutgoing() {
            do {
                try socket.write(Frame.encode(try sender.encrypt(plaintext)))
            } catch {
                close(reason: "\(error)")
                return
            }
        }
    }

    /// The next queued message, waiting for one; nil once closed.
    private func nextOutgoing() -> [UInt8]? {
        state.lock()
        defer { state.unlock() }
        while closeReason == nil && queueHead == queue.count { state.wait() }
        guard closeReason == nil else { return nil }
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
        return plaintext
    }
}
