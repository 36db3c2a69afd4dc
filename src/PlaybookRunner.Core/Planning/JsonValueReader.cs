using System.Text.Json;

namespace PlaybookRunner.Core.Planning;

/// <summary>
/// Reads a JSON document from a stream a token or a value at a time, so that a document larger than memory (the
/// answer of a daemon's worker with millions of findings) is never held whole: only the value being read is, in a
/// buffer that grows to the largest single value (at most <paramref name="maxValueBytes"/>, by default
/// <see cref="MaxValueBytes"/>). Throws <see cref="JsonException"/> for what is not JSON, a document that ends early, or a
/// value past the limit.
/// </summary>
internal sealed class JsonValueReader(Stream stream, int maxValueBytes = JsonValueReader.MaxValueBytes)
{
    /// <summary>The largest single value read whole: far more than any finding (each template's output is limited to 64 KiB).</summary>
    public const int MaxValueBytes = 64 * 1024 * 1024;

    private byte[] _buffer = new byte[Math.Min(64 * 1024, maxValueBytes)];
    private int _start;
    private int _end;
    private bool _final;
    private JsonReaderState _state;

    /// <summary>The name of the property just read by <see cref="Next"/>; null after any other token.</summary>
    public string? Name { get; private set; }

    /// <summary>Reads the next token and returns its type (a property's name is in <see cref="Name"/>).</summary>
    public JsonTokenType Next()
    {
        while (true)
        {
            var reader = new Utf8JsonReader(_buffer.AsSpan(_start, _end - _start), _final, _state);
            if (reader.Read())
            {
                Name = reader.TokenType == JsonTokenType.PropertyName ? reader.GetString() : null;
                Advance(ref reader);
                return reader.TokenType;
            }

            Fill();
        }
    }

    /// <summary>
    /// Reads the next value whole (an object, an array or a scalar) into a document the caller disposes; null when the next
    /// token ends the enclosing array or object instead (it is read).
    /// </summary>
    public JsonDocument? NextValue()
    {
        while (true)
        {
            var reader = new Utf8JsonReader(_buffer.AsSpan(_start, _end - _start), _final, _state);
            if (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.EndArray or JsonTokenType.EndObject:
                        Name = null;
                        Advance(ref reader);
                        return null;
                    case JsonTokenType.PropertyName:
                        throw new JsonException("a value was expected, not a property name");
                }

                // A copy probes whether the whole value is in the buffer; the original then parses it (copying its bytes).
                var probe = reader;
                if (probe.TrySkip())
                {
                    var document = JsonDocument.ParseValue(ref reader);
                    Name = null;
                    Advance(ref reader);
                    return document;
                }
            }

            Fill();
        }
    }

    /// <summary>Checks that nothing but white space follows the document just read.</summary>
    public void ExpectEnd()
    {
        while (true)
        {
            var reader = new Utf8JsonReader(_buffer.AsSpan(_start, _end - _start), _final, _state);
            if (reader.Read())
            {
                throw new JsonException("there is more after the document");
            }

            if (_final)
            {
                return;
            }

            Fill();
        }
    }

    private void Advance(ref Utf8JsonReader reader)
    {
        _start += (int)reader.BytesConsumed;
        _state = reader.CurrentState;
    }

    /// <summary>Keeps what is not read yet at the front of the buffer, grows it when that fills it, and reads more.</summary>
    private void Fill()
    {
        if (_final)
        {
            throw new JsonException("the document ends before it is complete");
        }

        var pending = _end - _start;
        if (pending == _buffer.Length)
        {
            if (_buffer.Length >= maxValueBytes)
            {
                throw new JsonException($"a value is larger than {maxValueBytes / 1024} KiB");
            }

            var larger = new byte[Math.Min(maxValueBytes, _buffer.Length * 2)];
            _buffer.AsSpan(_start, pending).CopyTo(larger);
            _buffer = larger;
        }
        else if (_start > 0)
        {
            _buffer.AsSpan(_start, pending).CopyTo(_buffer);
        }

        _start = 0;
        _end = pending;
        var read = stream.Read(_buffer, _end, _buffer.Length - _end);
        _end += read;
        _final = read == 0;
    }
}
