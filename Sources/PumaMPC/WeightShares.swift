import Foundation
import PumaCore

/// How the model owner shares its weights, and how each party keeps its part: by seeds.
///
/// For tensor t, the owner's components are x0 = PRG(c0, stream t + 1), x1 = PRG(c1, stream t + 1)
/// and x2 = encode(W) − x0 − x1, where c0 (held by P0 and P2) and c1 (held by P0 and P1) are the
/// owner's input seeds and the PRG is seekable AES-CTR (`SeekableStreams`).
/// Party Pi needs (x_i, x_{i+1}):
///
/// | party | components | keeps (deployment) |
/// |---|---|---|
/// | P0 | x0, x1 | the seeds c0, c1 only (32 bytes): both components are regenerated |
/// | P1 | x1, x2 | c1, and x2 on its own disk (8 bytes per parameter) |
/// | P2 | x2, x0 | c0, and x2 on its own disk (8 bytes per parameter) |
///
/// No component is ever held whole: party code asks its `WeightShareStorage` for one tile at a time.
public enum WeightSharing {
    /// The seekable stream of tensor `t` (stream 0 is the sequential input stream).
    public static func stream(tensor t: Int) -> UInt64 { UInt64(t) + 1 }

    /// The largest block a storage hands out at once (256 KB per component).
    public static let maxBlockElements = 1 << 15

    /// Writes PRG(c, stream of the tensor) over the block's elements: a seeded component of the block.
    public static func draw(_ seed: SeekableStreams, _ block: TensorBlock, into out: UnsafeMutablePointer<UInt64>) {
        let width = block.columns.count
        for (r, row) in block.rows.enumerated() {
            seed.words(stream: stream(tensor: block.tensor), offset: row * block.rowLength + block.columns.lowerBound,
                       into: out + r * width, count: width)
        }
    }

    /// What party `id` keeps in a deployment: seeds always, x2 for P1 and P2.
    public static func storedBytes(party id: Int, parameters: Int) -> Int {
        let seeds = id == 0 ? 32 : 16
        return seeds + (id == 0 ? 0 : 8 * parameters)
    }
}

/// A block of one shared tensor viewed as a [rows × rowLength] row-major matrix: rows
/// `rows`, columns `columns`, written contiguously (row stride `columns.count`).
public struct TensorBlock: Sendable, Equatable {
    public var tensor: Int
    public var rowLength: Int
    public var rows: Range<Int>
    public var columns: Range<Int>

    public init(tensor: Int, rowLength: Int, rows: Range<Int>, columns: Range<Int>) {
        self.tensor = tensor
        self.rowLength = rowLength
        self.rows = rows
        self.columns = columns
    }

    public var count: Int { rows.count * columns.count }
}

/// A party's own storage of its two weight-share components: the one interface through which party
/// code receives weights (never the plaintext). A party asks for one block at a time, in its
/// protocol order.
public protocol WeightShareStorage: Sendable {
    /// Calls `body(c, values)` once for each of the party's two components of `block` — c = 0 for
    /// x_i, c = 1 for x_{i+1} — in the order they become available; `values` holds `block.count`
    /// elements row-major (row stride `block.columns.count`) and is valid during that call only.
    func forEachComponent(_ block: TensorBlock, _ body: (Int, UnsafePointer<UInt64>) -> Void)
    /// The party is done with `tensor` for this pass: whatever is cached for it may go.
    func finished(tensor: Int)
}

/// The model owner's plaintext tensors, fixed-point encoded per block (its memory-mapped checkpoint).
public protocol PlainTensorSource: Sendable {
    /// Writes encode(W) − a − b of elements [offset, offset + count) of tensor `tensor` (row-major)
    /// to `out`, where (a, b) = `subtracting` (count elements each): the owner's third component.
    func encode(tensor: Int, offset: Int, count: Int, subtracting: (UnsafePointer<UInt64>, UnsafePointer<UInt64>),
                into out: UnsafeMutablePointer<UInt64>)
    /// Starts loading elements [offset, offset + count) of tensor `tensor` ahead of `encode` (a hint).
    func prefetch(tensor: Int, offset: Int, count: Int)
    /// Tensor `tensor` will not be read again soon: drop what memory holds of it (a hint).
    func release(tensor: Int)
}

extension PlainTensorSource {
    public func prefetch(tensor: Int, offset: Int, count: Int) {}
    public func release(tensor: Int) {}
}

/// The simulation's stand-in for each party's storage. Seeded components are regenerated from the
/// party's own seeds; x2, which P1 and P2 would each read from their own disks, is re-derived per
/// block from the owner's mapped checkpoint as encode(W) − x0 − x1 — in one process, the only place
/// x2 exists — once for both of them (`ExplicitTileRelay`), as two disks would hold the same bytes.
public final class SimulatedWeightStorage: WeightShareStorage, @unchecked Sendable {
    let party: Int
    /// The party's components (i, i + 1 mod 3), and where x2 is among them (P1: 1, P2: 0, P0: none).
    let components: [Int]
    let explicitSlot: Int?
    /// The owner's seeds this party holds, by component (c0 and/or c1).
    let seeds: [SeekableStreams?]
    /// For P1 and P2: where x2 comes from (the stand-in for their disks).
    let relay: ExplicitTileRelay?
    /// The party's seeded component of the current block.
    private let buffer: UnsafeMutablePointer<UInt64>
    /// How many x2 blocks this party has asked for: P1's and P2's n-th requests are the same block.
    private var sequence = 0

    init(party: Int, seeds: [SeekableStreams?], relay: ExplicitTileRelay?) {
        self.party = party
        components = [party, (party + 1) % 3]
        explicitSlot = components.firstIndex(of: 2)
        self.seeds = seeds
        self.relay = relay
        buffer = .allocate(capacity: WeightSharing.maxBlockElements)
    }

    deinit { buffer.deallocate() }

    public func forEachComponent(_ block: TensorBlock, _ body: (Int, UnsafePointer<UInt64>) -> Void) {
        precondition(block.count <= WeightSharing.maxBlockElements, "blocks hold at most \(WeightSharing.maxBlockElements) elements")
        guard let explicitSlot, let relay else {
            for (slot, j) in components.enumerated() {  // P0: both seeded, one buffer in turn
                WeightSharing.draw(seeds[j]!, block, into: buffer)
                body(slot, buffer)
            }
            return
        }
        // The checkpoint's rows stream in while the seeded component is drawn and used.
        relay.prefetch(block)
        let seeded = components[1 - explicitSlot]
        WeightSharing.draw(seeds[seeded]!, block, into: buffer)
        body(1 - explicitSlot, buffer)
        let n = sequence
        sequence += 1
        let explicit = relay.acquire(n, block, party: party, known: (seeded, buffer))
        body(explicitSlot, explicit)
        relay.release(n)
    }

    public func finished(tensor: Int) { relay?.deriver.source.release(tensor: tensor) }

}

/// Hands each x2 block to both P1's and P2's storage, deriving it once: whichever of the two asks for
/// its n-th block first derives it into slot n mod 8; the other waits until it is ready and reads the
/// same slot; the slot is reused once both have released it. Both ask for the same blocks in the
/// same order (SPMD), which `acquire` checks. Neither can deadlock the protocol: a party waits here
/// only on the other's progress through the same product, and the messages either needs from the
/// other were sent before it.
final class ExplicitTileRelay: @unchecked Sendable {
    private struct Slot {
        var sequence = -1
        var block: TensorBlock?
        var ready = false
        var released = 0
    }

    static let slotCount = 8
    let deriver: ExplicitComponentDeriver
    private let condition = NSCondition()
    private var slots = [Slot](repeating: Slot(), count: slotCount)
    private let buffers: UnsafeMutablePointer<UInt64>
    /// One row of the other seeded component, per party (index 1 and 2).
    private let scratch: [UnsafeMutablePointer<UInt64>]

    init(deriver: ExplicitComponentDeriver) {
        self.deriver = deriver
        buffers = .allocate(capacity: Self.slotCount * WeightSharing.maxBlockElements)
        scratch = (0..<3).map { _ in .allocate(capacity: WeightSharing.maxBlockElements) }
    }

    deinit {
        buffers.deallocate()
        scratch.forEach { $0.deallocate() }
    }

    func prefetch(_ block: TensorBlock) { deriver.prefetch(block) }

    /// x2 of `block`, the n-th block party `party` asks for; `known` is that party's seeded component.
    func acquire(_ n: Int, _ block: TensorBlock, party: Int, known: (index: Int, values: UnsafeMutablePointer<UInt64>)) -> UnsafePointer<UInt64> {
        let index = n % Self.slotCount
        let buffer = buffers + index * WeightSharing.maxBlockElements
        condition.lock()
        while slots[index].sequence != n && slots[index].sequence != -1 { condition.wait() }
        if slots[index].sequence == -1 {
            slots[index] = Slot(sequence: n, block: block)
            condition.unlock()
            deriver.derive(block, into: buffer, known: known, scratch: scratch[party])
            condition.lock()
            slots[index].ready = true
            condition.broadcast()
        } else {
            precondition(slots[index].block == block, "P1 and P2 asked for different weight blocks at step \(n)")
            while !slots[index].ready { condition.wait() }
        }
        condition.unlock()
        return UnsafePointer(buffer)
    }

    /// One of the two parties is done with its n-th block.
    func release(_ n: Int) {
        let index = n % Self.slotCount
        condition.lock()
        slots[index].released += 1
        if slots[index].released == 2 {
            slots[index] = Slot()
            condition.broadcast()
        }
        condition.unlock()
    }
}

/// x2 = encode(W) − x0 − x1 per block, from the owner's plaintext source and both owner seeds.
final class ExplicitComponentDeriver: @unchecked Sendable {
    let source: PlainTensorSource
    let seeds: [SeekableStreams]

    init(source: PlainTensorSource, seeds: [SeekableStreams]) {
        self.source = source
        self.seeds = seeds
    }

    func prefetch(_ block: TensorBlock) {
        for row in block.rows {
            source.prefetch(tensor: block.tensor, offset: row * block.rowLength + block.columns.lowerBound, count: block.columns.count)
        }
    }

    /// `known`: the seeded component of the same block the party already drew (x0 or x1); the other
    /// one is drawn row by row into `scratch` (one row: it stays in L1 until subtracted).
    func derive(_ block: TensorBlock, into out: UnsafeMutablePointer<UInt64>, known: (index: Int, values: UnsafeMutablePointer<UInt64>),
                scratch: UnsafeMutablePointer<UInt64>) {
        let width = block.columns.count
        let other = seeds[1 - known.index], stream = WeightSharing.stream(tensor: block.tensor)
        for (r, row) in block.rows.enumerated() {
            let offset = row * block.rowLength + block.columns.lowerBound
            other.words(stream: stream, offset: offset, into: scratch, count: width)
            source.encode(tensor: block.tensor, offset: offset, count: width,
                          subtracting: (UnsafePointer(known.values + r * width), UnsafePointer(scratch)), into: out + r * width)
        }
    }
}

/// A weight matrix as the parties use it: the row-wise concatenation of one or more shared tensors
/// (e.g. q, k and v projections stacked), each [rows × columns] row-major.
public struct SharedMatrix: Sendable {
    public struct Part: Sendable {
        public var tensor: Int
        public var rows: Int
        public init(tensor: Int, rows: Int) {
            self.tensor = tensor
            self.rows = rows
        }
    }

    public var parts: [Part]
    public var columns: Int

    public init(parts: [Part], columns: Int) {
        precondition(!parts.isEmpty && columns > 0, "a shared matrix needs at least one part and one column")
        self.parts = parts
        self.columns = columns
    }

    public var rows: Int { parts.reduce(0) { $0 + $1.rows } }
    public var count: Int { rows * columns }
}
