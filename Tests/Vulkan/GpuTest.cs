using Tipo.Vulkan;

namespace Tipo.Tests.Vulkan;

/// <summary>
/// Base fixture for tests that need a Vulkan device: one device per fixture, opened with <see cref="VulkanDevice.Open"/>
/// (so <c>TIPO_DEVICE</c> selects it). Any validation message recorded during a test fails that test.
/// </summary>
public abstract class GpuTest
{
    private VulkanDevice? _device;

    /// <summary>The fixture's device.</summary>
    protected VulkanDevice Device => _device ?? throw new InvalidOperationException("device not open");

    [OneTimeSetUp]
    public void OpenDevice()
    {
        VulkanDevice.TakeValidationMessages();
        _device = VulkanDevice.Open();
    }

    [OneTimeTearDown]
    public void CloseDevice()
    {
        _device?.Dispose();
        _device = null;
        AssertNoValidationMessages("while disposing the fixture's device");
    }

    [TearDown]
    public void CheckValidation() => AssertNoValidationMessages("during the test");

    /// <summary>Fails when the validation layer reported anything since the last check.</summary>
    public static void AssertNoValidationMessages(string when)
    {
        IReadOnlyList<string> messages = VulkanDevice.TakeValidationMessages();
        if (messages.Count > 0)
            Assert.Fail($"{messages.Count} Vulkan validation message(s) {when}:\n" + string.Join("\n", messages));
    }
}
