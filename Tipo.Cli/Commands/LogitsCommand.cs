using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using Tipo.Inference;

namespace Tipo.Cli.Commands;

/// <summary>
/// <c>tipo logits</c>: teacher-forced logits, one float32 row of vocab size per input id
/// (row p = logits after feeding ids[0..p]); how Tipo is checked against other engines.
/// </summary>
internal static class LogitsCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var device = CommonOptions.Device();
        var kv = CommonOptions.KvCache();
        var ctx = CommonOptions.Context();
        var ids = new Option<string>("--ids") { Description = "Comma-separated token ids.", Required = true };
        var output = new Option<string>("--out", "-o") { Description = "Output file (float32 little-endian, ids x vocab).", Required = true };
        var mode = new Option<string>("--mode") { Description = "prefill: all ids in one pass; decode: one id per pass.", DefaultValueFactory = _ => "prefill" };

        var command = new Command("logits", "Write teacher-forced logits for a list of token ids.") { model, ids, output, mode, kv, device, ctx };
        command.SetAction(parse =>
        {
            int[] tokens;
            try
            {
                tokens = parse.GetValue(ids)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
            }
            catch (FormatException)
            {
                throw new UsageException("--ids must be comma-separated integers");
            }
            if (tokens.Length == 0) throw new UsageException("--ids is empty");
            string m = parse.GetValue(mode)!;
            if (m is not ("prefill" or "decode")) throw new UsageException($"--mode must be prefill or decode, not '{m}'");

            var options = new InferenceOptions
            {
                Device = parse.GetValue(device),
                KvCacheType = CommonOptions.ParseKv(parse.GetValue(kv)!),
                ContextLength = parse.GetValue(ctx),
            };
            using var llm = LlamaModel.Load(parse.GetValue(model)!, options);
            foreach (int t in tokens)
                if ((uint)t >= (uint)llm.VocabSize) throw new UsageException($"token id {t} is outside the vocabulary (0..{llm.VocabSize - 1})");
            float[] logits = TeacherForcing.Logits(llm, tokens, m == "decode");

            string path = parse.GetValue(output)!;
            string temp = path + ".partial";
            File.WriteAllBytes(temp, MemoryMarshal.AsBytes(logits.AsSpan()).ToArray());
            File.Move(temp, path, overwrite: true);
            Console.Error.WriteLine($"wrote {tokens.Length} x {llm.VocabSize} logits to {path}");
            return ExitCodes.Ok;
        });
        return command;
    }
}
