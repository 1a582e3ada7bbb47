import { postHogV4 } from '../helpers/sdk-clients.ts'
import { sdkSuite } from '../helpers/sdk-suite.ts'

// posthog-node 4.x, the real client, against the service embedded and in queue mode (issue 16).
sdkSuite(postHogV4)
