import PlexusCommands

PlexusCommand.mainLoadingPlugins()
