// A typedoc plugin (typedoc.json `plugin`) for the API reference: WorkerPool and the fronts extend
// `BasePool`, an `@internal` class that is not exported. typedoc leaves it out of the reference but
// still names it under "Extends", "Inherited from" and "Overrides" on every member, a name the user
// can neither import nor look up. This drops those references to unwedge's own unexported
// declarations; the members themselves stay, documented on the class that has them.
import { Converter, ReferenceType } from 'typedoc';

/**
 * Whether `type` points at a declaration of this package that is not in the reference (an inherited
 * member's reference has no `package`; what is inherited from outside the package, e.g. from
 * `Error`, is left out of the reference anyway by `excludeExternals`).
 */
function internal(type, project) {
  return (
    type instanceof ReferenceType &&
    type.reflection === undefined &&
    (type.package === undefined || type.package === project.packageName)
  );
}

/** @param {import('typedoc').Application} app */
export function load(app) {
  // Before typedoc's own handler of the event, which builds each class's hierarchy from extendedTypes.
  app.converter.on(
    Converter.EVENT_RESOLVE_END,
    (context) => {
      const project = context.project;
      for (const reflection of Object.values(project.reflections)) {
        if (reflection.extendedTypes !== undefined) {
          reflection.extendedTypes = reflection.extendedTypes.filter((type) => !internal(type, project));
          if (reflection.extendedTypes.length === 0) delete reflection.extendedTypes;
        }
        const parts = [
          reflection,
          ...(reflection.signatures ?? []),
          reflection.getSignature,
          reflection.setSignature,
        ];
        for (const part of parts) {
          if (part === undefined) continue;
          for (const key of ['inheritedFrom', 'overwrites']) {
            if (part[key] !== undefined && internal(part[key], project)) delete part[key];
          }
        }
      }
    },
    1_000,
  );
}
