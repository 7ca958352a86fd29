using System.Text;

namespace Weft.Core.Health;

/// <summary>
/// Keeps the first <see cref="Capacity"/> bytes written and counts the rest, so a chatty target can never
/// grow a probe's memory. Safe for the two writers of a script's stdout and stderr.
/// </summary>
internal sealed class BoundedOutput
{
    /// <summary>Consul's cap on captured check output.</summary>
    public const int DefaultCapacity = 4 * 1024;

    private readonly byte[] _buffer;
    private readonly Lock _lock = new();
    private int _length;
    private long _total;

    public BoundedOutput(int capacity = DefaultCapacity) => _buffer = new byte[capacity];

    public int Capacity => _buffer.Length;

    public bool IsFull
    {
        get
        {
            lock (_lock)
                return _length == _buffer.Length;
        }
    }

    public void Write(ReadOnlySpan<byte> data)
    {
        lock (_lock)
        {
            _total += data.Length;
            var take = Math.Min(data.Length, _buffer.Length - _length);
            data[..take].CopyTo(_buffer.AsSpan(_length));
            _length += take;
        }
    }

    /// <summary>The captured text; when some was dropped, says how much, in Consul's words.</summary>
    public string ToText(bool reportTruncation)
    {
        lock (_lock)
        {
            var text = Encoding.UTF8.GetString(_buffer, 0, _length);
            return reportTruncation && _total > _length
                ? $"Captured {_length} of {_total} bytes\n...\n{text}"
                : text;
        }
    }
}
