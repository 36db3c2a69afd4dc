using PlaybookRunner.Abstractions;

namespace PlaybookRunner.Core.Sources;

/// <summary>The source kinds the engine implements itself behind the plugin contract (csv has a dedicated fast reader).</summary>
internal static class BuiltInSources
{
    /// <summary>A fresh set of the built-in source plugins, for a plugin catalog.</summary>
    public static IEnumerable<ISourcePlugin> All => [new JsonlSourcePlugin(), new SqliteSourcePlugin(), new PostgresSourcePlugin()];
}
