// `tidewire token --secret S --user U`: prints a token that `tidewire serve --auth-secret S` accepts
// for user U (format in token-signer.ts and docs/deploy.md).

import { Command } from 'commander';
import { TokenSigner } from './token-signer.js';

interface TokenCommandOptions {
  secret: string;
  user: string;
}

/** Builds the `token` subcommand. */
export function tokenCommand(): Command {
  return new Command('token')
    .description('mint an auth token for `tidewire serve --auth-secret` (HMAC-SHA256, "<user>.<signature>")')
    .requiredOption('--secret <secret>', 'the secret given to serve --auth-secret (16 characters or more)')
    .requiredOption('--user <userId>', 'the user id the token stands for (no dot, no space)')
    .action((options: TokenCommandOptions) => {
      process.stdout.write(`${new TokenSigner(options.secret).sign(options.user)}\n`);
    });
}
