using System.CommandLine;
using System.Globalization;
using Tipo.Vulkan;

namespace Tipo.Cli.Commands;

/// <summary><c>tipo devices</c>: lists every Vulkan device.</summary>
internal static class DevicesCommand
{
    public static Command Create()
    {
        var command = new Command("devices", "List every Vulkan device and its limits.");
        command.SetAction(_ =>
        {
            try
            {
                // Throws VulkanUnavailableException (exit code 3) when there is no loader, driver or device.
                IReadOnlyList<DeviceInfo> devices = VulkanDevice.EnumerateDevices();
                foreach (DeviceInfo d in devices)
                    Console.Write(Describe(d));
                return ExitCodes.Ok;
            }
            catch (Tipo.Errors.TipoException e)
            {
                // System.CommandLine's default handler would print a stack trace and exit 1: map it here.
                Console.Error.WriteLine($"tipo: error: {e.Message}");
                return ExitCodes.For(e);
            }
        });
        return command;
    }

    internal static string Describe(DeviceInfo d)
    {
        var ci = CultureInfo.InvariantCulture;
        static string Mib(ulong bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1048576.0:0} MiB");
        string heaps = string.Join(", ", d.MemoryHeaps.Select(h => Mib(h.Size) + (h.DeviceLocal ? " device-local" : " host")));
        static string YesNo(bool b) => b ? "yes" : "no";
        var sb = new System.Text.StringBuilder();
        sb.AppendLine(ci, $"[{d.Index}] {d.Name}{(d.Usable ? "" : "  (not usable: needs Vulkan 1.2 with a compute queue)")}");
        sb.AppendLine(ci, $"    type:                  {d.KindText}");
        sb.AppendLine("    driver:                " + d.Driver);
        sb.AppendLine(ci, $"    Vulkan API:            {d.ApiVersion}");
        sb.AppendLine(ci, $"    memory heaps:          {heaps}{(d.UnifiedMemory ? " (unified)" : "")}");
        sb.AppendLine(ci, $"    subgroup size:         {d.SubgroupSize}{(d.SubgroupArithmetic ? "" : " (no subgroup arithmetic)")}");
        if (d.ComputeUnits > 0) sb.AppendLine(ci, $"    compute units:         {d.ComputeUnits}");
        sb.AppendLine(ci, $"    16-bit storage:        {YesNo(d.Storage16Bit)}");
        sb.AppendLine(ci, $"    fp16 arithmetic:       {YesNo(d.ShaderFloat16)}");
        sb.AppendLine(ci, $"    maxStorageBufferRange: {d.MaxStorageBufferRange} ({Mib(d.MaxStorageBufferRange)})");
        return sb.ToString();
    }
}
