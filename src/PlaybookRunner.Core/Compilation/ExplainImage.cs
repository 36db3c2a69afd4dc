using System.Buffers.Binary;
using System.Text.Json;

namespace PlaybookRunner.Core.Compilation;

/// <summary>
/// An instrumented build for <c>explain</c> as the compile cache keeps it: the parts of each condition (as JSON, with
/// their length first) and then the assembly. The cache checks the whole entry's hash before it is decoded.
/// </summary>
internal static class ExplainImage
{
    private sealed record Entry(string Playbook, string Rule, IReadOnlyList<ExplainNode> Nodes);

    public static byte[] Encode(CompiledImage image)
    {
        var nodes = JsonSerializer.SerializeToUtf8Bytes(image.ExplainNodes.Select(n => new Entry(n.Key.Playbook, n.Key.Rule, n.Value)).ToList());
        var bytes = new byte[4 + nodes.Length + image.Image.Length];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, nodes.Length);
        nodes.CopyTo(bytes.AsSpan(4));
        image.Image.CopyTo(bytes.AsSpan(4 + nodes.Length));
        return bytes;
    }

    /// <summary>The image, or null when the entry is not one (it is then compiled again).</summary>
    public static CompiledImage? Decode(byte[] bytes)
    {
        if (bytes.Length < 4 || BinaryPrimitives.ReadInt32LittleEndian(bytes) is var length && (length < 0 || length > bytes.Length - 4))
        {
            return null;
        }

        try
        {
            var entries = JsonSerializer.Deserialize<List<Entry>>(bytes.AsSpan(4, length)) ?? [];
            return new CompiledImage(bytes[(4 + length)..], entries.ToDictionary(e => (e.Playbook, e.Rule), e => e.Nodes));
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
