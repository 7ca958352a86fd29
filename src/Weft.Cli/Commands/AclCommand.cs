using System.CommandLine;

namespace Weft.Cli.Commands;

/// <summary><c>weft acl token create|list|read|delete</c>: service tokens, as Consul's <c>consul acl token</c>.</summary>
internal static class AclCommand
{
    public static Command Create()
    {
        var token = new Command("token", "Create, list, read and delete service tokens (needs the management token)");
        token.Subcommands.Add(AclTokenCreateCommand.Create());
        token.Subcommands.Add(AclTokenListCommand.Create());
        token.Subcommands.Add(AclTokenReadCommand.Create());
        token.Subcommands.Add(AclTokenDeleteCommand.Create());

        var command = new Command("acl", "Access control: tokens");
        command.Subcommands.Add(token);
        return command;
    }
}
