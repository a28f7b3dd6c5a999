import { spinCloudProgram } from "./components/program";

/**
 * The stack outputs are what the program returns for the stack's target (README "Outputs").
 * Secrets (management tokens) read with `pulumi stack output --show-secrets <name>`.
 */
export = spinCloudProgram();
