using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace PlaybookRunner.Core.Planning;

/// <summary>
/// Writes a plan's text values (messages, bodies, recipients) exactly as <see cref="Utf8JsonWriter.WriteString(string, string)"/>
/// writes them with <see cref="JavaScriptEncoder.UnsafeRelaxedJsonEscaping"/>, the plan's encoder, but faster for the text
/// plans are made of. The writer escapes every character after the first one it must escape through its encoder one at a
/// time: a body with a line break near its start, or a JSON body with its quotes, costs it several times the text. Here
/// text that is all ASCII is escaped in runs: what lies between two characters to escape is copied as it is, and each such
/// character gets the very escape the writer gives it (asked of a writer once, at start). Other text, and writers with
/// another encoder, are left to the writer.
/// </summary>
internal static class JsonText
{
    /// <summary>The ASCII characters the plan's writer writes as they are (the encoder's, as templates' JSON escaping reads it).</summary>
    private static readonly SearchValues<char> Unescaped = Evaluation.TemplateHelpers.JsonUnescaped;

    /// <summary>For each ASCII character, the bytes the plan's writer writes for it inside a string.</summary>
    private static readonly byte[][] Escapes = new byte[128][];

    static JsonText()
    {
        var buffer = new ArrayBufferWriter<byte>();
        for (var c = (char)0; c < 128; c++)
        {
            buffer.ResetWrittenCount();
            using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            {
                json.WriteStringValue(c.ToString());
            }

            // Between the quotes the writer put around it.
            Escapes[c] = buffer.WrittenSpan[1..^1].ToArray();
        }
    }

    /// <summary>The longest text escaped here; longer text is the writer's (a body is at most 64 KiB, as every render).</summary>
    private const int MaxLength = 64 * 1024;

    /// <summary>Writes <c>"name": "value"</c> (or <c>null</c>) as <paramref name="json"/>'s own <c>WriteString</c> would.</summary>
    public static void Write(Utf8JsonWriter json, string name, string? value)
    {
        json.WritePropertyName(name);
        WriteValue(json, value);
    }

    /// <summary>Writes <c>"name": "value"</c> (or <c>null</c>) with a name encoded once, as <paramref name="json"/>'s own <c>WriteString</c> would.</summary>
    public static void Write(Utf8JsonWriter json, JsonEncodedText name, string? value)
    {
        json.WritePropertyName(name);
        WriteValue(json, value);
    }

    /// <summary>Writes the value of the property just named.</summary>
    private static void WriteValue(Utf8JsonWriter json, string? value)
    {
        if (value is null || !ReferenceEquals(json.Options.Encoder, JavaScriptEncoder.UnsafeRelaxedJsonEscaping) || value.Length > MaxLength)
        {
            json.WriteStringValue(value);
            return;
        }

        var text = value.AsSpan();
        var first = text.IndexOfAnyExcept(Unescaped);
        if (first < 0 || text[first..].ContainsAnyInRange('\u0080', '\uFFFF'))
        {
            // Nothing to escape (the writer copies it at once), or text beyond ASCII (the encoder decides each character).
            json.WriteStringValue(value);
            return;
        }

        // Written as the UTF-8 bytes the writer would write (all ASCII here); every escape is at most 6 ("\u001F"), and the quotes.
        var rented = ArrayPool<byte>.Shared.Rent((text.Length * 6) + 2);
        try
        {
            var output = rented.AsSpan();
            var written = 0;
            output[written++] = (byte)'"';
            var rest = text;
            var at = first;
            while (at >= 0)
            {
                System.Text.Ascii.FromUtf16(rest[..at], output[written..], out var copied);
                written += copied;
                var escape = Escapes[rest[at]];
                escape.CopyTo(output[written..]);
                written += escape.Length;
                rest = rest[(at + 1)..];
                at = rest.IndexOfAnyExcept(Unescaped);
            }

            System.Text.Ascii.FromUtf16(rest, output[written..], out var last);
            written += last;
            output[written++] = (byte)'"';
            json.WriteRawValue(output[..written], skipInputValidation: true);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }
}
