<#
.SYNOPSIS
    Removes the Almaden endpoint agent from this device.
.DESCRIPTION
    Stops the Almaden agent service, runs the agent's own uninstaller and reports the result.
    Run it in an elevated PowerShell window. It changes nothing else on the device.
    Keep the output: it is the evidence your partner asks for.
#>
[CmdletBinding()]
param()

$ErrorActionPreference = 'Stop'
$serviceName = 'AlmadenAgent'
$uninstaller = Join-Path $env:ProgramFiles 'Almaden\Agent\uninstall.exe'

$service = Get-Service -Name $serviceName -ErrorAction SilentlyContinue
if ($null -eq $service -and -not (Test-Path $uninstaller)) {
    Write-Output "$env:COMPUTERNAME: the Almaden agent is not installed."
    exit 0
}
if ($null -ne $service -and $service.Status -ne 'Stopped') {
    Stop-Service -Name $serviceName -Force
}
if (Test-Path $uninstaller) {
    $run = Start-Process -FilePath $uninstaller -ArgumentList '/quiet' -Wait -PassThru
    if ($run.ExitCode -ne 0) {
        Write-Error "$env:COMPUTERNAME: the uninstaller failed with exit code $($run.ExitCode)."
        exit $run.ExitCode
    }
}
Write-Output "$env:COMPUTERNAME: the Almaden agent was removed on $(Get-Date -Format o)."
