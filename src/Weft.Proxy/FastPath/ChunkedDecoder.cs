using System.Buffers;
using System.Runtime.InteropServices;

namespace Weft.Proxy.FastPath;

/// <summary>
/// The chunked body's state machine (RFC 9112 7.1), fed in pieces as the bytes arrive, in one of two modes:
/// <see cref="Scan"/> finds where the body ends and leaves the bytes as they are (the fast path relays the framing
/// unchanged); <see cref="Decode"/> removes the framing in place, moving the chunk data to the front of the buffer it
/// came in, so the inbound app client can receive straight into Kestrel's response memory and hand on only the data.
/// Trailer lines are kept by <see cref="Decode"/> when the app sends any (rare: allocated only then). Malformed
/// framing is an error: the exchange is reset rather than guessed at. One instance uses one mode.
/// </summary>
internal struct ChunkedDecoder
{
    private const int MaxTrailerBytes = 32 * 1024;

    private enum State { Size, Extension, SizeLf, Data, DataCr, DataLf, TrailerStart, TrailerLine, TrailerLf, FinalLf, Done }

    private State _state;
    private long _size;
    private int _digits;
    private ArrayBufferWriter<byte>? _trailers;

    public readonly bool Done => _state == State.Done;

    /// <summary>The trailer section's lines (each without its CRLF, joined by CRLF), or null when there was none; <see cref="Decode"/> only.</summary>
    public readonly ArrayBufferWriter<byte>? Trailers => _trailers;

    /// <summary>Scans <paramref name="data"/> without changing it; returns how many bytes belong to the body (all of them unless it ended inside).</summary>
    /// <exception cref="InvalidDataException">The chunk framing is broken.</exception>
    public int Scan(ReadOnlySpan<byte> data)
    {
        // Run writes nothing when strip is false, so the read-only bytes are never modified.
        Run(MemoryMarshal.CreateSpan(ref MemoryMarshal.GetReference(data), data.Length), strip: false, out var consumed);
        return consumed;
    }

    /// <summary>
    /// Decodes <paramref name="data"/>: its chunk data is moved to its start. Returns how many data bytes that is;
    /// <paramref name="consumed"/> is how many input bytes belonged to the body (all unless it ended inside).
    /// </summary>
    /// <exception cref="InvalidDataException">The chunk framing is broken.</exception>
    public int Decode(Span<byte> data, out int consumed) => Run(data, strip: true, out consumed);

    private int Run(Span<byte> data, bool strip, out int consumed)
    {
        var i = 0;
        var output = 0;
        while (i < data.Length && _state != State.Done)
        {
            var b = data[i];
            switch (_state)
            {
                case State.Size:
                    if (char.IsAsciiHexDigit((char)b))
                    {
                        if (++_digits > 15)
                            throw new InvalidDataException("chunk size too large");
                        _size = _size * 16 + (b <= '9' ? b - '0' : (b | 0x20) - 'a' + 10);
                    }
                    else if (_digits > 0 && b is (byte)';' or (byte)' ' or (byte)'\t')
                    {
                        _state = State.Extension;
                    }
                    else if (_digits > 0 && b == (byte)'\r')
                    {
                        _state = State.SizeLf;
                    }
                    else
                    {
                        throw new InvalidDataException("invalid chunk size");
                    }

                    i++;
                    break;
                case State.Extension:
                    // Anything up to the CR, but no other control character: a bare LF here would end the line for a
                    // lenient client and not for this scanner, and the two would disagree on where the body ends.
                    if (b == (byte)'\r')
                        _state = State.SizeLf;
                    else if (b is < 0x20 and not (byte)'\t' or 0x7F)
                        throw new InvalidDataException("invalid chunk extension");
                    i++;
                    break;
                case State.SizeLf:
                    Expect(b, (byte)'\n');
                    _state = _size == 0 ? State.TrailerStart : State.Data;
                    i++;
                    break;
                case State.Data:
                    var take = (int)Math.Min(_size, data.Length - i);
                    if (strip && output != i)
                        data.Slice(i, take).CopyTo(data[output..]);
                    output += take;
                    _size -= take;
                    i += take;
                    if (_size == 0)
                        _state = State.DataCr;
                    break;
                case State.DataCr:
                    Expect(b, (byte)'\r');
                    _state = State.DataLf;
                    i++;
                    break;
                case State.DataLf:
                    Expect(b, (byte)'\n');
                    _state = State.Size;
                    _digits = 0;
                    i++;
                    break;
                case State.TrailerStart:
                    if (b == (byte)'\r')
                    {
                        _state = State.FinalLf;
                    }
                    else if (b is < 0x20 and not (byte)'\t' or 0x7F)
                    {
                        throw new InvalidDataException("invalid trailer line");
                    }
                    else
                    {
                        if (strip)
                        {
                            _trailers ??= new ArrayBufferWriter<byte>(256);
                            if (_trailers.WrittenCount > 0)
                                _trailers.Write("\r\n"u8);
                            _trailers.Write([b]);
                        }

                        _state = State.TrailerLine;
                    }

                    i++;
                    break;
                case State.TrailerLine:
                    // Trailer lines end in CRLF like the rest (no bare CR or LF, no other control character).
                    if (b == (byte)'\r')
                    {
                        _state = State.TrailerLf;
                    }
                    else if (b is < 0x20 and not (byte)'\t' or 0x7F)
                    {
                        throw new InvalidDataException("invalid trailer line");
                    }
                    else if (strip)
                    {
                        if (_trailers!.WrittenCount > MaxTrailerBytes)
                            throw new InvalidDataException("trailer section too large");
                        _trailers.Write([b]);
                    }

                    i++;
                    break;
                case State.TrailerLf:
                    Expect(b, (byte)'\n');
                    _state = State.TrailerStart;
                    i++;
                    break;
                case State.FinalLf:
                    Expect(b, (byte)'\n');
                    _state = State.Done;
                    i++;
                    break;
            }
        }

        consumed = i;
        return output;
    }

    private static void Expect(byte b, byte expected)
    {
        if (b != expected)
            throw new InvalidDataException("invalid chunk framing");
    }
}
