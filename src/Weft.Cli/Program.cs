using System.CommandLine;
using Weft.Cli.Commands;

var root = new RootCommand("weft: a service mesh for .NET shops and everyone else");
CliCommands.AddAll(root);
return await root.Parse(args).InvokeAsync();
