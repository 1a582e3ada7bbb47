import Type from 'typebox'

/** `?project=NAME` on every route that works in a project: documented, and let through validation. */
export const ProjectParam = Type.Optional(
  Type.String({
    description:
      "the project's name. A project's key works in its own project only (another name: 403); a service-wide key, or a service with no keys, names one here, which reads require when there are several projects; writes without it go to `default`",
    examples: ['web'],
  }),
)

export const ProjectQuery = Type.Object({ project: ProjectParam }, { additionalProperties: false })
