import Chain
import JSON
import Primitives
import RPC

/// The JSON-RPC methods the explorer needs beside Ethereum's (docs/rpc.md, "Explorer"):
/// `opg_getTransactionsByAddress`, a page of the address index (`Schema.addressTransaction`,
/// written in each block's batch), and `opg_decodeTransaction`, a transaction's module
/// call and events decoded with the modules' published ABIs (`ModuleDecoder`).
public final class ExplorerRPC {
    /// Largest and default `limit` of one `opg_getTransactionsByAddress` page.
    public static let maxPageSize = 100

    private let chain: ChainService
    let decoder: ModuleDecoder

    /// Methods reading `chain`.
    public init(chain: ChainService) throws {
        self.chain = chain
        decoder = try ModuleDecoder()
    }

    /// Registers the methods on `dispatcher`, which keeps this object alive.
    public func register(on dispatcher: RPCDispatcher) {
        dispatcher.register("opg_getTransactionsByAddress") { [self] p in
            try p.expect(atMost: 3)
            let address = try p.address(0)
            let page = try Paging(p, cursorIndex: 1, limitIndex: 2, maxLimit: Self.maxPageSize)
            let from = page.start == 0 ? nil : (blockNumber: page.start >> 32, index: UInt32(truncatingIfNeeded: page.start))
            let (items, next) = try chain.database.transactions(of: address, from: from, limit: page.limit)
            return Paging.result(items.map { item in
                .object(["hash": .string(item.hash.hex), "blockNumber": .string("0x" + String(item.blockNumber, radix: 16)),
                         "transactionIndex": .string("0x" + String(item.index, radix: 16))])
            }, nextCursor: next.map { $0.blockNumber << 32 | UInt64($0.index) })
        }
        dispatcher.register("opg_decodeTransaction") { [self] p in
            try p.expect(atMost: 1)
            let hash = try p.hash(0, "transaction hash")
            guard let (number, index) = try chain.database.location(ofTransaction: hash),
                  let transactions = try chain.database.transactions(number: number), index < transactions.count,
                  let receipts = try chain.database.receipts(number: number), index < receipts.count else { return .null }
            let transaction = transactions[index]
            let events = receipts[index].logs.map { decoder.event($0) ?? .null }
            return .object(["transactionHash": .string(hash.hex), "call": decoder.call(to: transaction.to, input: transaction.data) ?? .null,
                            "events": .array(events)])
        }
    }
}
