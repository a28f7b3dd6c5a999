/**
 * What a resource was registered with, beyond its inputs: the mocks record neither `dependsOn`
 * nor `customTimeouts`, so a stack transformation reads them from the registration. Call inside
 * the program, before the resource is constructed.
 */
import * as pulumi from "@pulumi/pulumi";

export interface Registration {
    /** `<type> <name>` of each `dependsOn`, sorted (resolve inside the program, e.g. as a stack output). */
    readonly dependsOn: () => pulumi.Output<string[]>;
    /** The registration's options (undefined until it is constructed). */
    readonly options: () => pulumi.ResourceOptions | undefined;
}

export function captureRegistration(type: string, name: string): Registration {
    const deps: pulumi.Resource[] = [];
    let options: pulumi.ResourceOptions | undefined;
    pulumi.runtime.registerStackTransformation((a) => {
        if (a.type === type && a.name === name) {
            options = a.opts;
            deps.push(...([a.opts.dependsOn ?? []].flat() as pulumi.Resource[]));
        }
        return undefined;
    });
    return {
        dependsOn: () => pulumi.all(deps.map((d) => d.urn)).apply((urns) => urns.map((u) => `${u.split("::")[2].split("$").pop()} ${u.split("::")[3]}`).sort()),
        options: () => options,
    };
}
