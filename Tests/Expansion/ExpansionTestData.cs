using Tipo.Expansion;

namespace Tipo.Tests.Expansion;

/// <summary>
/// The tag lists for the expansion tests: a temp directory with links to the shared <c>tipo/tag-list</c> files plus an
/// <c>artist.txt</c> holding <c>ningen mame</c>, <c>ciloranko</c>, <c>quasarcake</c> (the shared lists have no artists).
/// </summary>
internal static class ExpansionTestData
{
    private static readonly Lazy<string> s_dir = new(Create);

    public static string TagListDirectory
    {
        get
        {
            _ = TestData.Shared("tipo/tag-list");
            return s_dir.Value;
        }
    }

    public static TagLists TagLists => TagLists.Load(TagListDirectory);

    private static string Create()
    {
        string shared = Path.Combine(TestData.SharedDir, "tipo", "tag-list");
        string dir = Path.Combine(Path.GetTempPath(), "tipo-tests-taglist-" + Environment.ProcessId);
        Directory.CreateDirectory(dir);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        };
        foreach (string name in new[] { "characters.txt", "copyrights.txt", "meta.txt" })
        {
            string target = Path.Combine(dir, name);
            if (File.Exists(target))
                File.Delete(target);
            try
            {
                File.CreateSymbolicLink(target, Path.Combine(shared, name));
            }
            catch (IOException)
            {
                File.Copy(Path.Combine(shared, name), target, overwrite: true);
            }
            catch (UnauthorizedAccessException)
            {
                File.Copy(Path.Combine(shared, name), target, overwrite: true);
            }
        }
        File.WriteAllText(Path.Combine(dir, "artist.txt"), "ningen mame\nciloranko\nquasarcake\n");
        return dir;
    }
}
