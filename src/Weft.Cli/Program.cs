using Weft.Cli.Commands;

return await CliRunner.RunAsync(args);
