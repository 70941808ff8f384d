// CLI entry: parses argv, loads config, wires adapters, runs a command.
process.stderr.write('tagpin: not implemented yet\n');
process.exitCode = 2;
