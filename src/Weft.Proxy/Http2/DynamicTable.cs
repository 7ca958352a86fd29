namespace Weft.Proxy.Http2;

/// <summary>
/// The HPACK dynamic table (RFC 7541 2.3.2, 4) of a decoder. Entries' bytes live in one buffer, appended in insertion
/// order; when the end is reached the live bytes move to the front, so every name and value is one contiguous span and
/// nothing is allocated per entry. The buffer grows with use up to twice the size limit (live bytes are always less
/// than the limit, so a move then frees at least half), which keeps connections whose peer indexes little small.
/// </summary>
internal sealed class DynamicTable
{
    /// <summary>The per-entry overhead of RFC 7541 4.1.</summary>
    public const int EntryOverhead = 32;

    private const int InitialBytes = 256;

    private readonly int _limit;
    private byte[] _bytes = [];
    private Entry[] _entries = [];
    private int _oldest;
    private int _tail;

    public DynamicTable(int maxSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxSize);
        _limit = maxSize;
        MaxSize = maxSize;
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
            MakeRoom(length);
        if (Count == _entries.Length)
            GrowEntries();
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

    /// <summary>Moves the live bytes to the front, into a larger buffer when they and the new entry fill half of this one.</summary>
    private void MakeRoom(int length)
    {
        var start = Count == 0 ? _tail : _entries[_oldest].Offset;
        var live = _tail - start;
        var bytes = _bytes;
        if (2 * (live + length) > bytes.Length && bytes.Length < 2 * _limit)
            bytes = new byte[Math.Min(2 * _limit, Math.Max(InitialBytes, 4 * (live + length)))];
        _bytes.AsSpan(start, live).CopyTo(bytes);
        _bytes = bytes;
        for (var i = 0; i < Count; i++)
        {
            ref var entry = ref _entries[(_oldest + i) % _entries.Length];
            entry = entry with { Offset = entry.Offset - start };
        }
        _tail = live;
    }

    private void GrowEntries()
    {
        // Every entry is at least 32 bytes, so the limit bounds the count.
        var entries = new Entry[Math.Min(_limit / EntryOverhead + 1, Math.Max(8, 2 * _entries.Length))];
        for (var i = 0; i < Count; i++)
            entries[i] = _entries[(_oldest + i) % _entries.Length];
        _entries = entries;
        _oldest = 0;
    }

    private readonly record struct Entry(int Offset, int NameLength, int ValueLength);
}
