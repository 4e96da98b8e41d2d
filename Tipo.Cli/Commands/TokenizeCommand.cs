using System.CommandLine;
using System.Globalization;
using Tipo.Errors;
using Tipo.Text;

namespace Tipo.Cli.Commands;

/// <summary>
/// <c>tipo tokenize --model PATH [--no-bos] [--no-special] [--file F | TEXT]</c>: prints the token ids of the text as one
/// JSON array, like llama.cpp's <c>llama-tokenize --ids</c> (BOS added, special tokens parsed, unless told otherwise).
/// </summary>
internal static class TokenizeCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model", "-m")
        {
            Description = "A .gguf file or a Hugging Face directory (tokenizer.model + added_tokens.json).",
            Required = true,
        };
        var noBos = new Option<bool>("--no-bos") { Description = "Do not prepend BOS." };
        var noSpecial = new Option<bool>("--no-special") { Description = "Treat special-token text such as <|long|> as plain text." };
        var file = new Option<string?>("--file", "-f") { Description = "Read the text from this file (UTF-8) instead of the argument." };
        var text = new Argument<string?>("text") { Arity = ArgumentArity.ZeroOrOne, Description = "The text to tokenize (or --file, or standard input)." };

        var command = new Command("tokenize", "Print the token ids of a text as a JSON array.");
        command.Options.Add(model);
        command.Options.Add(noBos);
        command.Options.Add(noSpecial);
        command.Options.Add(file);
        command.Arguments.Add(text);
        command.SetAction(parseResult =>
        {
            string? path = parseResult.GetValue(file);
            string? argument = parseResult.GetValue(text);
            if (path is not null && argument is not null)
            {
                Console.Error.WriteLine("tipo tokenize: give either --file or TEXT, not both");
                return ExitCodes.Usage;
            }
            string input;
            if (path is not null)
            {
                if (!File.Exists(path))
                {
                    Console.Error.WriteLine($"tipo tokenize: {path}: file not found");
                    return ExitCodes.Usage;
                }
                input = File.ReadAllText(path, new System.Text.UTF8Encoding(false));
            }
            else if (argument is not null)
            {
                input = argument;
            }
            else if (Console.IsInputRedirected)
            {
                input = Console.In.ReadToEnd();
            }
            else
            {
                Console.Error.WriteLine("tipo tokenize: no text (give TEXT, --file F, or pipe it in)");
                return ExitCodes.Usage;
            }

            try
            {
                LlamaTokenizer tokenizer = TokenizerLoader.Load(parseResult.GetValue(model)!);
                IReadOnlyList<int> ids = tokenizer.Encode(input, addBos: !parseResult.GetValue(noBos), parseSpecial: !parseResult.GetValue(noSpecial));
                Console.Out.WriteLine("[" + string.Join(", ", ids.Select(i => i.ToString(CultureInfo.InvariantCulture))) + "]");
                return ExitCodes.Ok;
            }
            catch (Exception e) when (e is TipoException or IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"tipo: error: {e.Message}");
                return ExitCodes.For(e);
            }
        });
        return command;
    }
}
