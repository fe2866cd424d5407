import Consensus
import Crypto
import Primitives

/// One validator of the simulation: its key, its disk (WAL), its signer state, its chain and,
/// while it is up, its driver. Timers carry the incarnation they were set in, so a timer set
/// before a crash never fires into the restarted process.
final class SimNode: ConsensusTransport {
    unowned let simulation: Simulation
    let index: Int
    let key: PrivateKey
    let byzantine: Bool
    let disk = SimDisk()
    let signerStorage = SimSignerStorage()
    let application: SimApplication
    private(set) var driver: ConsensusDriver?
    private(set) var incarnation = 0

    init(simulation: Simulation, index: Int, key: PrivateKey, byzantine: Bool, genesis: ValidatorSet) {
        self.simulation = simulation
        self.index = index
        self.key = key
        self.byzantine = byzantine
        application = SimApplication(node: index, genesis: genesis)
    }

    var isUp: Bool { driver != nil }

    /// Starts (or restarts) the process: WAL replay and signer state from what survived.
    func start() throws {
        let signer = try DurableSigner(key: key, storage: signerStorage, domain: simulation.domain)
        driver = try ConsensusDriver.recover(domain: simulation.domain, timeouts: simulation.timeouts, application: application,
                                             transport: self, wal: WriteAheadLog(storage: disk), signer: signer,
                                             verifier: simulation.verifier)
    }

    /// Kills the process: unsynced WAL bytes are lost (sometimes leaving a torn tail), and so,
    /// half of the time, is the signer state stored since its last sync.
    func crash(_ random: inout SimRandom) {
        driver = nil
        incarnation += 1
        disk.crash(&random)
        signerStorage.crash(&random)
    }

    func broadcast(_ messages: [ConsensusMessage]) { simulation.send(from: index, messages) }

    func schedule(_ timeout: Timeout, afterMillis millis: UInt64) {
        simulation.scheduleTimer(node: index, incarnation: incarnation, timeout: timeout, after: millis)
    }

    func reportEvidence(_ evidence: DuplicateVoteEvidence) { simulation.evidence.append(evidence) }
}
