import Chain
import JSON
import Modules
import Primitives
import RPC

/// The staking module's JSON-RPC methods (docs/rpc.md, "Staking"): `opg_getOperator`,
/// `opg_listOperators` and `opg_getValidators`. Like `ModelRPC` they live in the node
/// because RPC knows no module, and read through the module's own view functions, so RPC
/// and `eth_call` never disagree.
public final class StakingRPC {
    /// Largest and default `limit` of one `opg_listOperators` page.
    public static let maxPageSize = 100

    private let models: ModelRPC

    /// Methods reading the chain of `models`, through its readers.
    public init(models: ModelRPC) { self.models = models }

    /// Registers the methods on `dispatcher`, which keeps this object alive.
    public func register(on dispatcher: RPCDispatcher) {
        dispatcher.register("opg_getOperator") { [self] p in
            try p.expect(atMost: 1)
            let account = try p.address(0, "operator")
            return try Self.operatorJSON(account, models.reader())
        }
        dispatcher.register("opg_listOperators") { [self] p in
            try p.expect(atMost: 1)
            return try list(p.optional(0), models.reader())
        }
        dispatcher.register("opg_getValidators") { [self] p in
            try p.expect(atMost: 1)
            let head = models.reader().head.number
            var number = head
            if case .string("latest")? = p.optional(0) {} else if p.optional(0) != nil { number = try p.uint64(0, "blockNumber") }
            guard let reader = try models.reader(number: number) else {
                throw RPCError.invalidParams("0: block \(number) is past the head (\(head))")
            }
            let output = try reader.view(at: Staking.address, "validatorsAt(uint64)", [.uint(UInt256(number))])
            let set = try Staking.decodeValidators(output)
            return .object(["blockNumber": .string(Hex.quantity(number)), "totalPower": .int(set.reduce(UInt64(0)) { $0 + $1.power }),
                            "validators": .array(set.map {
                                .object(["address": .string($0.address.checksummed), "consensusKey": .string(Hex.encode($0.consensusKey)),
                                         "power": .int($0.power)])
                            })])
        }
    }

    /// `{role, model, cursor, limit}`: operators in registration order from index `cursor`,
    /// those of `role` and serving `model` when given, at most `limit`.
    private func list(_ filter: JSONValue?, _ reader: ModelRPC.Reader) throws -> JSONValue {
        var role: OperatorRole?, model: String?
        var cursor: JSONValue = .null, limit: JSONValue = .null
        if let filter {
            guard case .object(let o) = filter else { throw RPCError.invalidParams("0: the filter must be an object {role, model, cursor, limit}") }
            for key in o.keys where !["role", "model", "cursor", "limit"].contains(key) { throw RPCError.invalidParams("0: unknown filter field \(key)") }
            if let value = o["role"], value != .null {
                guard case .string(let name) = value, let r = OperatorRole(name: name) else {
                    throw RPCError.invalidParams("0: role must be \"provider\", \"verifier\" or \"validator\"")
                }
                role = r
            }
            if let value = o["model"], value != .null {
                guard case .string(let m) = value else { throw RPCError.invalidParams("0: model must be a string") }
                model = m
            }
            cursor = o["cursor"] ?? .null
            limit = o["limit"] ?? .null
        }
        let page = try Paging(RPCParams([cursor, limit]), cursorIndex: 0, limitIndex: 1, maxLimit: Self.maxPageSize)
        let count = try ABI.decode([.uint(256)], reader.view(at: Staking.address, "operatorCount()", []))[0].uintValue?.uint64 ?? 0
        guard page.start <= count else { throw RPCError.invalidParams("0: cursor \(page.start) is past the end (\(count) operators)") }
        var items: [JSONValue] = []
        var index = page.start
        while index < count && items.count < page.limit {
            let output = try reader.view(at: Staking.address, "operatorAt(uint256)", [.uint(UInt256(index))])
            let account = try ABI.decode([.address], output)[0].addressValue ?? .zero
            index += 1
            guard case .object(let item) = try Self.operatorJSON(account, reader) else { continue }
            if let role, item["role"] != .string(role.name) { continue }
            if let model, case .array(let served)? = item["models"], !served.contains(.string(model)) { continue }
            items.append(.object(item))
        }
        return Paging.result(items, nextCursor: index < count ? index : nil)
    }

    /// `getOperator(account)` as JSON; amounts in wei as hex quantities.
    static func operatorJSON(_ account: Address, _ reader: ModelRPC.Reader) throws -> JSONValue {
        let output = try reader.view(at: Staking.address, "getOperator(address)", [.address(account)])
        guard case .tuple(let f) = try ABI.decode([Staking.operatorInfoType], output)[0], f.count == 15 else {
            throw RPCError.internalError("getOperator returned no record")
        }
        func number(_ v: ABIValue) -> JSONValue { .int(v.uintValue?.uint64 ?? 0) }
        func amount(_ v: ABIValue) -> JSONValue { .string((v.uintValue ?? .zero).hexQuantity) }
        let role = OperatorRole(rawValue: UInt8(truncatingIfNeeded: f[0].uintValue?.uint64 ?? 0))?.name ?? "none"
        var models: [JSONValue] = []
        if case .array(let items) = f[12] { models = items.map { .string($0.stringValue ?? "") } }
        return .object([
            "address": .string(account.checksummed), "role": .string(role), "stake": amount(f[1]), "eligibleFromEpoch": number(f[2]),
            "unbonding": amount(f[3]), "unbondingReleaseBlock": number(f[4]), "jailed": .bool(f[5] == .bool(true)),
            "jailReleaseBlock": number(f[6]), "tombstoned": .bool(f[7] == .bool(true)), "attestations": number(f[8]),
            "faults": number(f[9]), "registeredAt": number(f[10]), "hardwareClass": .string(f[11].stringValue ?? ""),
            "models": .array(models), "consensusKey": f[13].bytesValue.map { $0.isEmpty ? .null : .string(Hex.encode($0)) } ?? .null,
            "power": number(f[14]),
        ])
    }
}
