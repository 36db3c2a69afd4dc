using PlaybookRunner.Core.Sources;

namespace PlaybookRunner.Core.Tests.Sources;

public sealed class SecretsTests
{
    [Theory]
    [InlineData("token S3CRET-scrub-ab12cd was refused", "token *** was refused")]
    [InlineData("TOKEN S3CRET-SCRUB-AB12CD WAS REFUSED", "TOKEN *** WAS REFUSED")]
    [InlineData("s3cret-scrub-ab12cds3cret-scrub-AB12CD", "******")]
    [InlineData("nothing secret here", "nothing secret here")]
    public void Resolved_values_are_scrubbed_in_any_letter_case(string message, string scrubbed)
    {
        var secrets = new Secrets(name => name == "PB_T" ? "S3CRET-scrub-ab12cd" : null);
        Assert.True(secrets.TryResolve("Bearer ${env:PB_T}", out _, out _));

        Assert.Equal(scrubbed, secrets.Scrub(message));
    }
}
