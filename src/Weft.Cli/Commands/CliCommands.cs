using System.CommandLine;

namespace Weft.Cli.Commands;

/// <summary>Every command of the <c>weft</c> executable, registered in one place.</summary>
internal static class CliCommands
{
    public static void AddAll(RootCommand root)
    {
        root.Subcommands.Add(ServerCommand.Create());
        root.Subcommands.Add(DevCommand.Create());
        root.Subcommands.Add(ProxyCommand.Create());
        root.Subcommands.Add(ServicesCommand.Create());
        root.Subcommands.Add(InstancesCommand.Create());
        root.Subcommands.Add(RegisterCommand.Create());
        root.Subcommands.Add(DeregisterCommand.Create());
        root.Subcommands.Add(ConfigCommand.Create());
        root.Subcommands.Add(AclCommand.Create());
        root.Subcommands.Add(CaCommands.Create());
        root.Subcommands.Add(IntentionCommand.Create());
        root.Subcommands.Add(TopCommand.Create());
        root.Subcommands.Add(StatCommand.Create());
        root.Subcommands.Add(CheckCommand.Create());
    }
}
