using System.Globalization;

namespace PlaybookRunner.Runtime;

/// <summary>
/// The hard heap limit this process runs under, when it runs under one: the tool sets 75% of the
/// available memory in its runtimeconfig, and the daemon's evaluation worker is started with
/// <c>DOTNET_GCHeapHardLimit</c>. Only then is an out-of-memory error inside
/// an expression the memory limit (PB5007, the playbook stopped); without a limit it stays an error of
/// that rule and key, as any other exception.
/// </summary>
internal static class HeapLimit
{
    /// <summary>The limit in MB; null without one.</summary>
    // The runtime's own setting, read as the GC read it at start-up: not an operator setting of the engine's.
#pragma warning disable RS0030
    public static long? Megabytes { get; } =
        Environment.GetEnvironmentVariable("DOTNET_GCHeapHardLimit") is { Length: > 0 } hex
        && long.TryParse(hex.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? hex[2..] : hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var bytes) && bytes > 0
            ? bytes / (1024 * 1024)
            // The tool's own runtimeconfig sets a percentage (75% of the memory available): the GC reports the limit it made of it.
            : AppContext.GetData("System.GC.HeapHardLimitPercent") is not null
                ? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1024 * 1024)
                : null;
#pragma warning restore RS0030
}
