using System.Text.Json.Serialization;
using Weft.Core.Catalog;

namespace Weft.Server.Storage;

/// <summary>How records are kept in a store: JSON bodies, indexes kept beside them by the store.</summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingDefault)]
[JsonSerializable(typeof(NodeRecord))]
[JsonSerializable(typeof(ServiceRecord))]
[JsonSerializable(typeof(CheckRecord))]
[JsonSerializable(typeof(CaRootRecord))]
internal sealed partial class StoreJson : JsonSerializerContext;
