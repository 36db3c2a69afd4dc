using System.Text.Encodings.Web;
using System.Text.Json;
using PlaybookRunner.Core.Evaluation;

namespace PlaybookRunner.Core.Tests.Evaluation;

public sealed class TemplateHelpersTests
{
    [Theory]
    [InlineData("plain")]
    [InlineData("Quote \"Q\" and back\\slash")]
    [InlineData("line\nbreak\ttab\r\u0001\u001f")]
    [InlineData("<script>&'</script>")]
    [InlineData("Zoë, 東京, 😀")]
    [InlineData("\u2028\u2029")]
    [InlineData("")]
    public void Json_escape_escapes_exactly_as_the_serializer_does(string text)
    {
        var serialized = JsonSerializer.Serialize(text, new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        Assert.Equal(serialized[1..^1], TemplateHelpers.JsonEscape(text));
    }

    [Fact]
    public void Json_escape_formats_numbers_and_null_invariantly()
    {
        Assert.Equal(("1234.5", ""), (TemplateHelpers.JsonEscape(1234.5m), TemplateHelpers.JsonEscape(null)));
    }
}
