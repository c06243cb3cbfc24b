// A check of PlexusModelCodegen, part of the package only when the environment sets
// PLEXUS_EXAMPLE_MISSING_MODULE (see Package.swift): this target depends on PlexusCore alone,
// while its model's layers come from PlexusPerceptron, so its build must fail naming that
// module. The test suite builds it that way and expects the failure.
