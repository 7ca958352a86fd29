namespace Weft.Proxy.Http2;

/// <summary>
/// The HPACK dynamic table (RFC 7541 2.3.2, 4) of a decoder. Entries' bytes live in one buffer twice the largest
/// allowed size, appended in insertion order; when the end is reached the live bytes (always less than the size limit)
/// move to the front, so every name and value is one contiguous span and nothing is allocated per entry.
/// </summary>
internal sealed class DynamicTable
{
    /// <summary>The per-entry overhead of RFC 7541 4.1.</summary>
    public const int EntryOverhead = 32;

    private readonly byte[] _bytes;
    private readonly Entry[] _entries;
    private int _oldest;
    private int _tail;

    public DynamicTable(int maxSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxSize);
        MaxSize = maxSize;
        _bytes = new byte[2 * maxSize];
        _entries = new Entry[maxSize / EntryOverhead + 1];
    }

    /// <summary>The current size limit (changed by size updates), at most the limit the table was made with.</summary>
    public int MaxSize { get; private set; }

    /// <summary>The size by the 32-byte overhead rule.</summary>
    public int Size { get; private set; }

    public int Count { get; private set; }

    /// <summary>The entry at <paramref name="index"/>, 1 being the newest (static index 62).</summary>
    public void Get(int index, out ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value)
    {
        var entry = _entries[(_oldest + Count - index) % _entries.Length];
        name = _bytes.AsSpan(entry.Offset, entry.NameLength);
        value = _bytes.AsSpan(entry.Offset + entry.NameLength, entry.ValueLength);
    }

    /// <summary>A dynamic table size update (6.3); the caller has checked it against the allowed limit.</summary>
    public void SetMaxSize(int maxSize)
    {
        MaxSize = maxSize;
        EvictUntil(maxSize);
    }

    /// <summary>Adds an entry, evicting the oldest as needed (4.4). The spans must not point into this table.</summary>
    public void Add(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        var entrySize = name.Length + value.Length + EntryOverhead;
        if (entrySize > MaxSize)
        {
            // 4.4: an entry larger than the table empties it and is not added.
            EvictUntil(0);
            return;
        }
        EvictUntil(MaxSize - entrySize);
        var length = name.Length + value.Length;
        if (_tail + length > _bytes.Length)
            Compact();
        name.CopyTo(_bytes.AsSpan(_tail));
        value.CopyTo(_bytes.AsSpan(_tail + name.Length));
        _entries[(_oldest + Count) % _entries.Length] = new Entry(_tail, name.Length, value.Length);
        _tail += length;
        Count++;
        Size += entrySize;
    }

    private void EvictUntil(int size)
    {
        while (Size > size)
        {
            var entry = _entries[_oldest];
            Size -= entry.NameLength + entry.ValueLength + EntryOverhead;
            _oldest = (_oldest + 1) % _entries.Length;
            Count--;
        }
        if (Count == 0)
            _tail = 0;
    }

    private void Compact()
    {
        var start = _entries[_oldest].Offset;
        _bytes.AsSpan(start, _tail - start).CopyTo(_bytes);
        for (var i = 0; i < Count; i++)
        {
            ref var entry = ref _entries[(_oldest + i) % _entries.Length];
            entry = entry with { Offset = entry.Offset - start };
        }
        _tail -= start;
    }

    private readonly record struct Entry(int Offset, int NameLength, int ValueLength);
}
