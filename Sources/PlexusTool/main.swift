import PlexusCommands

PlexusCommand.main()
