import Foundation
import NIOCore

/// One message on a link between two endpoints: protocol words, a control document (JSON: hellos,
/// requests, ledgers), an abort carrying the sender's reason for stopping, or a keepalive (sent
/// every `Link.keepaliveInterval` by the network thread, so that a silent peer is a frozen or
/// unreachable one, never merely a busy one).
///
/// On the wire (inside TLS): a 16-byte header — the magic "PUMA", the kind (1 byte), three zero
/// bytes, the payload length in bytes (UInt64, little-endian) — then the payload; words are
/// little-endian. Anything else is a garbled frame, which ends the link.
enum Frame: Sendable {
    case words([UInt64])
    case control(Data)
    case abort(String)
    case keepalive

    enum Kind: UInt8 {
        case words = 1, control = 2, abort = 3, keepalive = 4
    }

    static let magic: UInt32 = 0x414D_5550  // "PUMA" read as a little-endian UInt32
    static let headerBytes = 16
    /// The largest payload accepted (4 GiB): beyond any message of a 7B pass or weight chunk.
    static let maxPayloadBytes = 1 << 32

    var payloadBytes: Int {
        switch self {
        case .words(let w): return 8 * w.count
        case .control(let d): return d.count
        case .abort(let reason): return reason.utf8.count
        case .keepalive: return 0
        }
    }

    /// The frame as one buffer (the words copied once).
    func encoded(_ allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: Self.headerBytes + payloadBytes)
        let kind: Kind
        switch self {
        case .words: kind = .words
        case .control: kind = .control
        case .abort: kind = .abort
        case .keepalive: kind = .keepalive
        }
        buffer.writeInteger(Self.magic, endianness: .little)
        buffer.writeInteger(kind.rawValue)
        buffer.writeRepeatingByte(0, count: 3)
        buffer.writeInteger(UInt64(payloadBytes), endianness: .little)
        switch self {
        case .words(let w): w.withUnsafeBytes { _ = buffer.writeBytes($0) }
        case .control(let d): buffer.writeBytes(d)
        case .abort(let reason): buffer.writeString(reason)
        case .keepalive: break
        }
        return buffer
    }
}

/// A frame that breaks the format: the link it came on is closed.
struct GarbledFrame: Error, CustomStringConvertible {
    let description: String
}

/// Cuts the TLS stream into frames (see `Frame`), rejecting malformed headers before reading a payload.
struct FrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = Frame

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard buffer.readableBytes >= Frame.headerBytes else { return .needMoreData }
        let start = buffer.readerIndex
        let magic = buffer.getInteger(at: start, endianness: .little, as: UInt32.self)!
        let kindByte = buffer.getInteger(at: start + 4, as: UInt8.self)!
        let reserved = buffer.getBytes(at: start + 5, length: 3)!
        let length = buffer.getInteger(at: start + 8, endianness: .little, as: UInt64.self)!
        guard magic == Frame.magic, reserved == [0, 0, 0] else { throw GarbledFrame(description: "garbled frame (bad header)") }
        guard let kind = Frame.Kind(rawValue: kindByte) else { throw GarbledFrame(description: "garbled frame (unknown kind \(kindByte))") }
        guard length <= UInt64(Frame.maxPayloadBytes), kind != .words || length % 8 == 0 else {
            throw GarbledFrame(description: "garbled frame (payload of \(length) bytes)")
        }
        let n = Int(length)
        guard buffer.readableBytes >= Frame.headerBytes + n else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: Frame.headerBytes)
        let frame: Frame
        switch kind {
        case .words:
            let words = [UInt64](unsafeUninitializedCapacity: n / 8) { out, count in
                buffer.readWithUnsafeReadableBytes { raw in
                    UnsafeMutableRawBufferPointer(out).copyMemory(from: UnsafeRawBufferPointer(rebasing: raw.prefix(n)))
                    return n
                }
                count = n / 8
            }
            frame = .words(words)
        case .control:
            frame = .control(Data(buffer.readBytes(length: n)!))
        case .abort:
            frame = .abort(buffer.readString(length: n) ?? "(unreadable reason)")
        case .keepalive:
            buffer.moveReaderIndex(forwardBy: n)
            frame = .keepalive
        }
        context.fireChannelRead(wrapInboundOut(frame))
        return .continue
    }
}
