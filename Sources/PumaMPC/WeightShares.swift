import PumaCore

/// How the model owner shares its weights, and how each party keeps its part: by seeds.
///
/// For tensor t, the owner's components are x0 = PRG(c0, stream t + 1), x1 = PRG(c1, stream t + 1)
/// and x2 = encode(W) − x0 − x1, where c0 (held by P0 and P2) and c1 (held by P0 and P1) are the
/// owner's input seeds and the PRG is seekable AES-CTR (`AESCounterPRG.words(stream:offset:…)`).
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

    /// What party `id` keeps in a deployment: seeds always, x2 for P1 and P2.
    public static func storedBytes(party id: Int, parameters: Int) -> Int {
        let seeds = id == 0 ? 32 : 16
        return seeds + (id == 0 ? 0 : 8 * parameters)
    }
}

/// A block of one shared tensor viewed as a [rows × rowLength] row-major matrix: rows
/// `rows`, columns `columns`, written contiguously (row stride `columns.count`).
public struct TensorBlock: Sendable {
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
/// code receives weights (never the plaintext). Fills (x_i, x_{i+1}) of a block.
public protocol WeightShareStorage: Sendable {
    func fill(_ block: TensorBlock, first: UnsafeMutablePointer<UInt64>, second: UnsafeMutablePointer<UInt64>)
}

/// The model owner's plaintext tensors, fixed-point encoded per block (its memory-mapped checkpoint).
public protocol PlainTensorSource: Sendable {
    /// Writes encode(W) − a − b of elements [offset, offset + count) of tensor `tensor` (row-major)
    /// to `out`, where (a, b) = `subtracting` (count elements each): the owner's third component.
    func encode(tensor: Int, offset: Int, count: Int, subtracting: (UnsafePointer<UInt64>, UnsafePointer<UInt64>),
                into out: UnsafeMutablePointer<UInt64>)
    /// Starts loading elements [offset, offset + count) of tensor `tensor` ahead of `encode` (a hint).
    func prefetch(tensor: Int, offset: Int, count: Int)
}

extension PlainTensorSource {
    public func prefetch(tensor: Int, offset: Int, count: Int) {}
}

/// The simulation's stand-in for each party's storage. Seeded components are regenerated from the
/// party's own seeds; x2, which P1 and P2 would read from their disks, is re-derived per block from
/// the owner's mapped checkpoint as encode(W) − x0 − x1 — in one process, the only place x2 exists.
public final class SimulatedWeightStorage: WeightShareStorage, @unchecked Sendable {
    let party: Int
    /// The owner's seeds this party holds, by component (c0 and/or c1).
    let seeds: [SeekableStreams?]
    /// For P1 and P2: the owner's side that derives x2 (the stand-in for their disk).
    let explicitComponent: ExplicitComponentDeriver?
    /// The seeded component x2's derivation needs besides the one the party holds (one row of a tile).
    private var scratch: UnsafeMutablePointer<UInt64>
    private var scratchCapacity = 0

    init(party: Int, seeds: [SeekableStreams?], explicitComponent: ExplicitComponentDeriver?) {
        self.party = party
        self.seeds = seeds
        self.explicitComponent = explicitComponent
        scratch = UnsafeMutablePointer<UInt64>.allocate(capacity: 0)
    }

    deinit { scratch.deallocate() }

    public func fill(_ block: TensorBlock, first: UnsafeMutablePointer<UInt64>, second: UnsafeMutablePointer<UInt64>) {
        let wanted = [party, (party + 1) % 3]
        // The checkpoint's rows stream in while the seeded components are drawn.
        if wanted.contains(2) { explicitComponent!.prefetch(block) }
        let buffers = [first, second]
        // Seeded components first, so x2's derivation can reuse the one already drawn.
        var known: (index: Int, values: UnsafeMutablePointer<UInt64>)?
        for (j, out) in zip(wanted, buffers) where j != 2 {
            regenerate(j, block, into: out)
            known = (j, out)
        }
        if let slot = wanted.firstIndex(of: 2), let known {
            if scratchCapacity < block.columns.count {
                scratch.deallocate()
                scratch = UnsafeMutablePointer<UInt64>.allocate(capacity: block.columns.count)
                scratchCapacity = block.columns.count
            }
            explicitComponent!.derive(block, into: buffers[slot], known: known, scratch: scratch)
        }
    }

    func regenerate(_ component: Int, _ block: TensorBlock, into out: UnsafeMutablePointer<UInt64>) {
        Self.draw(seeds[component]!, block, into: out)
    }

    /// Writes PRG(c, stream of the tensor) over the block's elements.
    static func draw(_ seed: SeekableStreams, _ block: TensorBlock, into out: UnsafeMutablePointer<UInt64>) {
        let width = block.columns.count
        for (r, row) in block.rows.enumerated() {
            seed.words(stream: WeightSharing.stream(tensor: block.tensor), offset: row * block.rowLength + block.columns.lowerBound,
                       into: out + r * width, count: width)
        }
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
