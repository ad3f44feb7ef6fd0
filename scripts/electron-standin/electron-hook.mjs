// Module resolution hook for the stand-in Electron: `import "electron"` from the packaged app
// resolves to the fake module (the package holds no electron module; the real binary provides it).
let fake;

export function initialize(data) {
  fake = data.fake;
}

export async function resolve(specifier, context, next) {
  if (specifier === "electron") return { url: fake, shortCircuit: true };
  return next(specifier, context);
}
