namespace Tipo.Expansion;

/// <summary>
/// One planned model operation (KGen's <c>[mode, length, expand]</c>).
/// </summary>
/// <param name="Task">The task name (<c>tag_to_long</c>, <c>short_to_tag</c> …), or null for tag-only expansion.</param>
/// <param name="Length">The length bucket the model is asked for.</param>
/// <param name="Expand">
/// True: the prompt stops inside the last field so the model continues it. False: the prompt ends in <c>key:</c> and the
/// model writes that field fresh.
/// </param>
public sealed record TipoOperation(string? Task, TipoLength Length, bool Expand)
{
    /// <summary>The field the operation produces: the last item of <c>task.split("_to_")</c>, or <c>tag</c>.</summary>
    public string Target => Task is null ? "tag" : Task.Split("_to_")[^1];
}
