using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using PlaybookRunner.Core.Planning;

namespace PlaybookRunner.Core.Tests.Planning;

/// <summary>A plan's text values are written faster than the writer writes them, and to the byte as it writes them (<see cref="JsonText"/>).</summary>
public sealed class JsonTextTests
{
    private static readonly string[] Texts =
    [
        "", "plain", "Hello east team,\n\nC0000009 is on the Basic plan.\n", "{\"customer\": \"C1\", \"monthly\": 93.47, \"key\": true}",
        "\"", "\\", "\n", "a\tb\rc\fd\be", "\u0000\u0001\u001f\u007f", "<b>&amp;'`+", "end\"", "\"start", "\\\"\\\"", "é ü 😀\n\"",
        "x\ny\u2028z", "ascii then \n then é", new string('"', 5000), string.Concat(Enumerable.Repeat("line\n", 3000)), "\ud800\n", "a\n\udc00",
    ];

    private static string Written(JsonWriterOptions options, Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer, options))
        {
            json.WriteStartObject();
            json.WriteString("before", "x");
            write(json);
            json.WriteBoolean("after", true);
            json.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    [Fact]
    public void Every_text_is_written_byte_for_byte_as_the_writer_writes_it()
    {
        var random = new Random(21);
        var ascii = Enumerable.Range(0, 128).Select(c => (char)c).ToArray();
        var generated = Enumerable.Range(0, 500).Select(_ => new string([.. Enumerable.Range(0, random.Next(0, 200)).Select(_ => random.Next(4) == 0 ? ascii[random.Next(32)] : ascii[random.Next(128)])]));
        var options = new[]
        {
            new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping },
            new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping },
            new JsonWriterOptions { Indented = true },
        };
        var compared = 0;
        foreach (var text in Texts.Concat(generated).Append(null))
        {
            foreach (var option in options)
            {
                var expected = Written(option, json => json.WriteString("text", text));
                var actual = Written(option, json => JsonText.Write(json, "text", text));
                Assert.True(expected == actual, $"'{text}':\n{expected}\n{actual}");
                compared++;
            }
        }

        Assert.Equal((Texts.Length + 501) * 3, compared);
    }
}
