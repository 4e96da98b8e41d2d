using System.Text;
using Tipo.Errors;

namespace Tipo.Text;

/// <summary>
/// A minimal reader and writer for SentencePiece's <c>ModelProto</c> (sentencepiece_model.proto): just the
/// fields a LLaMA BPE tokenizer needs. Reading turns a <c>tokenizer.model</c> into a <see cref="SentencePieceVocabulary"/>;
/// writing turns a vocabulary (e.g. from GGUF) back into a model that Microsoft.ML.Tokenizers loads.
/// </summary>
internal static class SentencePieceModelProto
{
    // ModelProto fields.
    private const int FieldPieces = 1, FieldTrainerSpec = 2, FieldNormalizerSpec = 3;
    // SentencePiece fields.
    private const int FieldPiece = 1, FieldScore = 2, FieldType = 3;
    // TrainerSpec fields.
    private const int FieldModelType = 3, FieldVocabSize = 4, FieldTreatWhitespaceAsSuffix = 24, FieldByteFallback = 35,
        FieldUnkId = 40, FieldBosId = 41, FieldEosId = 42, FieldPadId = 43;
    // NormalizerSpec fields.
    private const int FieldName = 1, FieldAddDummyPrefix = 3, FieldRemoveExtraWhitespaces = 4, FieldEscapeWhitespaces = 5;

    private const int WireVarint = 0, WireFixed64 = 1, WireLengthDelimited = 2, WireFixed32 = 5;
    private const int ModelTypeBpe = 2;

    /// <summary>What <see cref="Read"/> found besides the pieces.</summary>
    internal sealed record Model(List<string> Pieces, List<float> Scores, List<int> Types, int ModelType, bool ByteFallback,
        int UnkId, int BosId, int EosId, bool AddDummyPrefix, bool RemoveExtraWhitespaces, bool EscapeWhitespaces, bool TreatWhitespaceAsSuffix);

    /// <summary>Parses a serialized ModelProto; throws <see cref="ModelFormatException"/> naming <paramref name="path"/> if it is not one.</summary>
    public static Model Read(ReadOnlySpan<byte> data, string path)
    {
        var pieces = new List<string>();
        var scores = new List<float>();
        var types = new List<int>();
        int modelType = 1, unkId = 0, bosId = 1, eosId = 2; // proto defaults
        bool byteFallback = false, addDummyPrefix = true, removeExtra = true, escape = true, suffix = false;
        try
        {
            var r = new Reader(data);
            while (!r.End)
            {
                (int field, int wire) = r.Tag();
                if (field == FieldPieces && wire == WireLengthDelimited)
                {
                    var p = new Reader(r.Bytes());
                    string piece = "";
                    float score = 0;
                    int type = TokenType.Normal;
                    while (!p.End)
                    {
                        (int f, int w) = p.Tag();
                        if (f == FieldPiece && w == WireLengthDelimited) piece = Encoding.UTF8.GetString(p.Bytes());
                        else if (f == FieldScore && w == WireFixed32) score = BitConverter.Int32BitsToSingle((int)p.Fixed32());
                        else if (f == FieldType && w == WireVarint) type = (int)p.Varint();
                        else p.Skip(w);
                    }
                    pieces.Add(piece);
                    scores.Add(score);
                    types.Add(type);
                }
                else if (field == FieldTrainerSpec && wire == WireLengthDelimited)
                {
                    var t = new Reader(r.Bytes());
                    while (!t.End)
                    {
                        (int f, int w) = t.Tag();
                        if (w != WireVarint) { t.Skip(w); continue; }
                        long v = (long)t.Varint();
                        switch (f)
                        {
                            case FieldModelType: modelType = (int)v; break;
                            case FieldByteFallback: byteFallback = v != 0; break;
                            case FieldTreatWhitespaceAsSuffix: suffix = v != 0; break;
                            case FieldUnkId: unkId = (int)v; break;
                            case FieldBosId: bosId = (int)v; break;
                            case FieldEosId: eosId = (int)v; break;
                        }
                    }
                }
                else if (field == FieldNormalizerSpec && wire == WireLengthDelimited)
                {
                    var n = new Reader(r.Bytes());
                    while (!n.End)
                    {
                        (int f, int w) = n.Tag();
                        if (w != WireVarint) { n.Skip(w); continue; }
                        bool v = n.Varint() != 0;
                        switch (f)
                        {
                            case FieldAddDummyPrefix: addDummyPrefix = v; break;
                            case FieldRemoveExtraWhitespaces: removeExtra = v; break;
                            case FieldEscapeWhitespaces: escape = v; break;
                        }
                    }
                }
                else
                {
                    r.Skip(wire);
                }
            }
        }
        catch (FormatException e)
        {
            throw new ModelFormatException(path, "not a SentencePiece model (protobuf parse error: " + e.Message + ")", e);
        }
        if (pieces.Count == 0)
            throw new ModelFormatException(path, "not a SentencePiece model (no pieces)");
        return new Model(pieces, scores, types, modelType, byteFallback, unkId, bosId, eosId, addDummyPrefix, removeExtra, escape, suffix);
    }

    /// <summary>
    /// Serializes a BPE ModelProto with the vocabulary's pieces, scores and types, byte fallback on when the
    /// vocabulary has byte pieces, and a normalizer that does nothing (Tipo escapes spaces and adds the prefix itself).
    /// </summary>
    public static byte[] Write(SentencePieceVocabulary vocab)
    {
        var w = new Writer();
        var piece = new Writer();
        for (int i = 0; i < vocab.Tokens.Length; i++)
        {
            piece.Clear();
            piece.String(FieldPiece, vocab.Tokens[i]);
            piece.Float(FieldScore, vocab.Scores[i]);
            piece.Int(FieldType, vocab.TokenTypes[i]);
            w.Message(FieldPieces, piece);
        }

        bool hasBytes = vocab.TokenTypes.Contains(TokenType.Byte);
        var trainer = new Writer();
        trainer.Int(FieldModelType, ModelTypeBpe);
        trainer.Int(FieldVocabSize, vocab.Tokens.Length);
        trainer.Int(FieldTreatWhitespaceAsSuffix, 0);
        trainer.Int(FieldByteFallback, hasBytes ? 1 : 0);
        trainer.Int(FieldUnkId, vocab.UnknownId);
        trainer.Int(FieldBosId, vocab.BosId);
        trainer.Int(FieldEosId, vocab.EosId);
        trainer.Int(FieldPadId, -1);
        w.Message(FieldTrainerSpec, trainer);

        var normalizer = new Writer();
        normalizer.String(FieldName, "identity");
        normalizer.Int(FieldAddDummyPrefix, 0);
        normalizer.Int(FieldRemoveExtraWhitespaces, 0);
        normalizer.Int(FieldEscapeWhitespaces, 1);
        w.Message(FieldNormalizerSpec, normalizer);
        return w.ToArray();
    }

    private ref struct Reader(ReadOnlySpan<byte> data)
    {
        private readonly ReadOnlySpan<byte> _data = data;
        private int _pos;

        public readonly bool End => _pos >= _data.Length;

        public (int Field, int Wire) Tag()
        {
            ulong tag = Varint();
            int field = (int)(tag >> 3);
            if (field == 0)
                throw new FormatException($"field number 0 at byte {_pos}");
            return (field, (int)(tag & 7));
        }

        public ulong Varint()
        {
            ulong result = 0;
            for (int shift = 0; shift < 70; shift += 7)
            {
                if (_pos >= _data.Length)
                    throw new FormatException("truncated varint");
                byte b = _data[_pos++];
                result |= (ulong)(b & 0x7F) << shift;
                if ((b & 0x80) == 0)
                    return result;
            }
            throw new FormatException("varint too long");
        }

        public uint Fixed32()
        {
            if (_pos + 4 > _data.Length)
                throw new FormatException("truncated fixed32");
            uint v = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(_data.Slice(_pos, 4));
            _pos += 4;
            return v;
        }

        public ReadOnlySpan<byte> Bytes()
        {
            ulong len = Varint();
            if (len > (ulong)(_data.Length - _pos))
                throw new FormatException($"length {len} runs past the end at byte {_pos}");
            var s = _data.Slice(_pos, (int)len);
            _pos += (int)len;
            return s;
        }

        public void Skip(int wire)
        {
            switch (wire)
            {
                case WireVarint: Varint(); break;
                case WireFixed64: if (_pos + 8 > _data.Length) throw new FormatException("truncated fixed64"); _pos += 8; break;
                case WireLengthDelimited: Bytes(); break;
                case WireFixed32: Fixed32(); break;
                default: throw new FormatException($"unsupported wire type {wire} at byte {_pos}");
            }
        }
    }

    private sealed class Writer
    {
        private readonly MemoryStream _s = new();

        public void Clear() => _s.SetLength(0);

        public byte[] ToArray() => _s.ToArray();

        private void Varint(ulong v)
        {
            while (v >= 0x80)
            {
                _s.WriteByte((byte)(v | 0x80));
                v >>= 7;
            }
            _s.WriteByte((byte)v);
        }

        private void Tag(int field, int wire) => Varint((ulong)((field << 3) | wire));

        public void Int(int field, int value)
        {
            Tag(field, WireVarint);
            Varint((ulong)(long)value); // negative int32 is sign-extended to 10 bytes, as protobuf does
        }

        public void Float(int field, float value)
        {
            Tag(field, WireFixed32);
            Span<byte> b = stackalloc byte[4];
            System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(b, value);
            _s.Write(b);
        }

        public void String(int field, string value)
        {
            byte[] b = Encoding.UTF8.GetBytes(value);
            Tag(field, WireLengthDelimited);
            Varint((ulong)b.Length);
            _s.Write(b);
        }

        public void Message(int field, Writer inner)
        {
            Tag(field, WireLengthDelimited);
            Varint((ulong)inner._s.Length);
            inner._s.Position = 0;
            inner._s.CopyTo(_s);
            inner._s.Position = inner._s.Length;
        }
    }
}
